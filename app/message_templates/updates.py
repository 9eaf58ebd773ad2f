"""Meta's template webhooks (`message_template_status_update`,
`message_template_quality_update`) read into the change they make to a stored template."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

STATUS_FIELD = "message_template_status_update"
QUALITY_FIELD = "message_template_quality_update"
FIELDS = frozenset({STATUS_FIELD, QUALITY_FIELD})
# Events that are no status of their own: a reinstated template is approved again; a
# flagged one stays approved (its quality update follows).
_EVENT_STATUS = {"REINSTATED": "APPROVED", "FLAGGED": None}


@dataclass(frozen=True)
class TemplateUpdate:
    """A new status or quality score of the template with this id (or name and language)."""

    template_id: str
    name: str | None
    language: str | None
    status: str | None = None
    quality_score: str | None = None


def _text(value: Any) -> str | None:
    return (
        str(value)[:512] if isinstance(value, str | int) and not isinstance(value, bool) else None
    )


def template_update(field: str, value: Any) -> TemplateUpdate | None:
    """The update a template webhook's value makes, or None when it names no template or
    says nothing to store."""
    if field not in FIELDS or not isinstance(value, dict):
        return None
    template_id = _text(value.get("message_template_id")) or ""
    name = _text(value.get("message_template_name"))
    language = _text(value.get("message_template_language"))
    if field == STATUS_FIELD:
        event = (_text(value.get("event")) or "").upper()[:32]
        status = _EVENT_STATUS.get(event, event or None)
        update = TemplateUpdate(template_id, name, language, status=status)
    else:
        score = _text(value.get("new_quality_score"))
        update = TemplateUpdate(template_id, name, language, quality_score=score and score[:32])
    if update.status is None and update.quality_score is None:
        return None
    return update

"""What the templates domain does: sync from Meta, keep current from webhooks, list, and
check a template send before Meta is called."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.message_templates.exceptions import TemplateNotSendable, TemplatesNotConfigured
from app.message_templates.parameters import mismatch, render, slots
from app.message_templates.repository import TemplateRepository
from app.message_templates.schemas import TemplateListParams, TemplateOut
from app.message_templates.updates import TemplateUpdate
from app.models import MessageTemplate
from app.runtime import Runtime

logger = logging.getLogger(__name__)

APPROVED = "APPROVED"
# Longer values than the columns hold are cut: Meta's own values are far shorter.
_MAX = {"name": 512, "language": 16, "category": 32, "status": 32, "quality_score": 32}


@dataclass(frozen=True)
class SyncResult:
    """What a sync found: how many templates Meta listed, over how many pages."""

    templates: int
    pages: int


def _quality(template: dict[str, Any]) -> str | None:
    score = template.get("quality_score")
    if isinstance(score, dict):
        score = score.get("score")
    return str(score) if score is not None else None


def _row(template: dict[str, Any], now: datetime) -> dict[str, Any] | None:
    """The stored row of one template Meta listed, or None if it lacks id, name or language."""
    values: dict[str, Any] = {
        "template_id": str(template.get("id") or ""),
        "name": str(template.get("name") or ""),
        "language": str(template.get("language") or ""),
        "category": template.get("category"),
        "status": str(template.get("status") or "UNKNOWN"),
        "quality_score": _quality(template),
    }
    if not (values["template_id"] and values["name"] and values["language"]):
        return None
    for name, length in _MAX.items():
        if isinstance(values[name], str):
            values[name] = values[name][:length]
    components = template.get("components")
    return {
        **values,
        "components": components if isinstance(components, list) else [],
        "synced_at": now,
        "updated_at": now,
    }


async def sync_templates(runtime: Runtime, *, now: datetime) -> SyncResult:
    """Fetch every template of the account from Meta (all pages) and store them.

    Meta is called outside any transaction; the pages are then stored in one, and the
    templates Meta no longer lists are removed. Raises TemplatesNotConfigured without
    WHATSAPP_BUSINESS_ACCOUNT_ID, GraphAPIError when Meta fails (nothing changes then).
    """
    account = runtime.settings.whatsapp_business_account_id
    if not account:
        raise TemplatesNotConfigured(
            "set WHATSAPP_BUSINESS_ACCOUNT_ID to the WhatsApp Business Account whose "
            "templates to sync"
        )
    listed: list[dict[str, Any]] = []
    after: str | None = None
    pages = 0
    while True:
        page, after = await runtime.graph.list_templates(account, after=after)
        listed += page
        pages += 1
        if after is None:
            break
    rows = {row["template_id"]: row for t in listed if (row := _row(t, now)) is not None}
    async with runtime.sessions.begin() as session:
        repository = TemplateRepository(session)
        await repository.delete_except(list(rows))
        await repository.upsert_many(list(rows.values()))
    logger.info("synced %d message templates (%d pages)", len(rows), pages)
    return SyncResult(templates=len(rows), pages=pages)


async def apply_updates(session: AsyncSession, updates: Sequence[TemplateUpdate]) -> None:
    """Apply template webhooks (status, quality) to the stored templates they name.

    A template not stored yet is left to the next sync, which will bring it whole.
    """
    repository = TemplateRepository(session)
    for update in updates:
        values: dict[str, Any] = {}
        if update.status is not None:
            values["status"] = update.status
        if update.quality_score is not None:
            values["quality_score"] = update.quality_score
        await repository.set_fields(update.template_id, update.name, update.language, **values)


def template_out(template: MessageTemplate) -> TemplateOut:
    """The API's view of a stored template, with the parameters a send must give."""
    needed = slots(template.components or [])
    return TemplateOut(
        template_id=template.template_id,
        name=template.name,
        language=template.language,
        category=template.category,
        status=template.status,
        quality_score=template.quality_score,
        components=list(template.components or []),
        parameter_count=len(needed),
        parameters=[
            {"component": s.component, "kind": s.kind, "name": s.name, "label": s.label}
            for s in needed
        ],
        synced_at=template.synced_at,
    )


async def list_templates(session: AsyncSession, params: TemplateListParams) -> list[TemplateOut]:
    """The stored templates matching `params`, by name then language."""
    templates = await TemplateRepository(session).list_all(
        status=params.status, name=params.name, language=params.language
    )
    return [template_out(t) for t in templates]


async def check_send(
    session: AsyncSession, name: str, language: str, components: Sequence[dict[str, Any]]
) -> str:
    """The text a template send shows the customer, once it is known to fit the stored
    template: it exists in that language, is APPROVED, and gets the parameters it needs.

    Raises TemplateNotSendable saying what is expected otherwise.
    """
    repository = TemplateRepository(session)
    template = await repository.get(name, language)
    if template is None:
        languages = await repository.languages_of(name)
        if languages:
            raise TemplateNotSendable(
                f"template {name!r} has no {language} version; it exists in: "
                + ", ".join(languages)
            )
        raise TemplateNotSendable(
            f"no template named {name!r}; GET /api/whatsapp/templates/ lists the known ones"
        )
    if template.status != APPROVED:
        raise TemplateNotSendable(
            f"template {name!r} ({language}) is {template.status}; only APPROVED templates "
            "can be sent"
        )
    problem = mismatch(slots(template.components or []), components)
    if problem is not None:
        raise TemplateNotSendable(f"template {name!r} ({language}): {problem}")
    return render(template.components or [], components)

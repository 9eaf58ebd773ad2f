"""Errors of the change-event stream."""

from __future__ import annotations

from app.errors import DomainError


class InvalidLastEventId(DomainError):
    """A Last-Event-ID header that is no event id."""

    status_code = 422
    error = "invalid_last_event_id"

    def __init__(self, value: str) -> None:
        super().__init__(f"Last-Event-ID must be an event id (a whole number), not {value[:40]!r}")

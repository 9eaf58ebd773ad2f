"""Errors of the messages domain, mapped to HTTP by app.errors."""

from __future__ import annotations

from app.errors import DomainError, NotFound


class MessageNotFound(NotFound):
    """No message has this wamid."""

    def __init__(self, message_id: str) -> None:
        super().__init__(f"no message with message_id {message_id!r}")


class InvalidMarkReadRequest(DomainError):
    """Mark-read was not told which messages, or was told in a way that names none."""

    status_code = 422
    error = "validation_error"

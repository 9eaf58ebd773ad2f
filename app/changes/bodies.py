"""The JSON body of each kind of event, built from the rows its change wrote."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.changes.repository import NewChange
from app.changes.types import ChangeType
from app.models import Message


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _message_fields(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "message_id": row["message_id"],
        "conversation_id": row.get("conversation_id"),
        "direction": row.get("direction"),
        "message_type": row.get("message_type"),
        "text_body": row.get("text_body"),
        "caption": row.get("caption"),
        "media_id": row.get("media_id"),
        "timestamp": _iso(row.get("timestamp")),
        "status": row.get("status"),
    }


def message_received(row: dict[str, Any]) -> NewChange:
    """A customer's message, stored for the first time (a row of the messages table)."""
    data = _message_fields(row)
    data.update(phone_number=row.get("from_number"), contact_name=row.get("from_name"))
    return NewChange(ChangeType.MESSAGE_RECEIVED, row.get("conversation_id"), data)


def message_sent(message: Message) -> NewChange:
    """A message Meta accepted from us."""
    data = _message_fields({c: getattr(message, c) for c in _MESSAGE_COLUMNS})
    data["phone_number"] = message.to_number
    return NewChange(ChangeType.MESSAGE_SENT, message.conversation_id, data)


_MESSAGE_COLUMNS = (
    "message_id",
    "conversation_id",
    "direction",
    "message_type",
    "text_body",
    "caption",
    "media_id",
    "timestamp",
    "status",
)


def message_status(row: dict[str, Any], conversation_id: int | None) -> NewChange:
    """A status Meta reported, new for its message (a row of the status table), in the
    conversation of that message (None while the message is not stored)."""
    data = {
        "message_id": row["message_id"],
        "status": row["status"],
        "timestamp": _iso(row.get("timestamp")),
        "recipient_id": row.get("recipient_id"),
        "errors": row.get("errors") or None,
    }
    return NewChange(ChangeType.MESSAGE_STATUS, conversation_id, data)


def conversation_read(conversation_id: int, marked: int, up_to: str, at: datetime) -> NewChange:
    """Inbound messages of a conversation marked read: how many, up to which."""
    return NewChange(
        ChangeType.CONVERSATION_READ,
        conversation_id,
        {
            "conversation_id": conversation_id,
            "marked": marked,
            "up_to_message_id": up_to,
            "read_at": at.isoformat(),
        },
    )


def media_stored(
    message_id: str, conversation_id: int | None, *, mime_type: str | None, size: int, url: str
) -> NewChange:
    """A message's media file, downloaded from Meta and stored."""
    return NewChange(
        ChangeType.MEDIA_STORED,
        conversation_id,
        {
            "message_id": message_id,
            "conversation_id": conversation_id,
            "mime_type": mime_type,
            "size": size,
            "url": url,
        },
    )


def call_received(
    call: dict[str, Any], conversation_id: int | None, phone_number: str | None
) -> NewChange:
    """A call event of the Calling API (a customer calls, or hangs up)."""
    return NewChange(
        ChangeType.CALL_RECEIVED,
        conversation_id,
        {**call, "conversation_id": conversation_id, "phone_number": phone_number},
    )


def job_dead(job_id: int, kind: str, attempts: int, error: str, payload: Any) -> NewChange:
    """A background job that will not run again: what it was and why it failed."""
    return NewChange(
        ChangeType.JOB_DEAD,
        None,
        {"job_id": job_id, "kind": kind, "attempts": attempts, "error": error, "payload": payload},
    )

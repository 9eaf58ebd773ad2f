"""From Meta's models to table rows: who sent a message, and which columns each type fills.

The seed's "Message Types Handled" table, extended to every type Meta documents: the
chosen title of an interactive or button reply is the text; media keep Meta's media id
(the file is fetched by a background job); every type keeps its payload in `raw`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String

from app.db import replace_nul
from app.models import Call as CallRow
from app.models import Conversation, Direction, MediaState, Message, MessageStatus
from app.models import MessageStatusUpdate as StatusUpdate
from app.webhook.delivery import ChangeItems, Rejection
from app.webhook.schemas import Call, Contact, InboundMessage, Status


def _lengths(table: Any) -> dict[str, int]:
    """The length of each bounded string column of a table."""
    return {
        c.name: c.type.length
        for c in table.__table__.columns
        if isinstance(c.type, String) and c.type.length is not None
    }


_MESSAGE_LENGTHS = _lengths(Message)
_STATUS_LENGTHS = _lengths(StatusUpdate)
_CUSTOMER_LENGTHS = {
    "phone_number_id": _lengths(Conversation)["phone_number_id"],
    "phone_number": _lengths(Conversation)["phone_number"],
    "user_id": _lengths(Conversation)["user_id"],
}
_CALL_LENGTHS = {
    **_CUSTOMER_LENGTHS,
    "call_id": _lengths(CallRow)["call_id"],
    "direction": _lengths(CallRow)["direction"],
}


def _safe_strings(row: dict[str, Any]) -> dict[str, Any]:
    """The row with NUL replaced in its string columns (JSON columns keep the original)."""
    return {k: replace_nul(v) if isinstance(v, str) else v for k, v in row.items()}


def _too_long(
    row: dict[str, Any], lengths: dict[str, int], sources: dict[str, str], item_path: str
) -> Rejection | None:
    """A Rejection for the first value longer than its column, at the JSON path it came from.

    `sources` maps a column to that path; a column not in it names the item itself.
    """
    for name, length in lengths.items():
        value = row.get(name)
        if isinstance(value, str) and len(value) > length:
            return Rejection(
                sources.get(name, item_path),
                f"{len(value)} characters, longer than the {length} that {name} can hold",
            )
    return None


@dataclass(frozen=True)
class Customer:
    """Who a conversation is with: a business number and the customer's number and/or id."""

    phone_number_id: str
    phone_number: str | None
    user_id: str | None

    @property
    def sort_key(self) -> tuple[str, str, str]:
        """A stable order, so concurrent deliveries lock conversations in the same order."""
        return (self.phone_number_id, self.phone_number or "", self.user_id or "")


@dataclass(frozen=True)
class Incoming:
    """A valid inbound message: its row (conversation_id still to fill) and its sender."""

    row: dict[str, Any]
    customer: Customer | None
    contact_name: str | None


class _Senders:
    """The contacts of a change, found by the number or the user id of a message's sender."""

    def __init__(self, contacts: list[Contact]) -> None:
        self.by_number = {c.wa_id: c for c in reversed(contacts) if c.wa_id}
        self.by_user_id = {c.user_id: c for c in reversed(contacts) if c.user_id}
        self.only = contacts[0] if len(contacts) == 1 else None

    def of(self, message: InboundMessage) -> Contact | None:
        """The contact entry describing the message's sender (by number, by user id, or alone)."""
        found = (message.from_ and self.by_number.get(message.from_)) or (
            message.from_user_id and self.by_user_id.get(message.from_user_id)
        )
        return found or self.only


def business_number(items: ChangeItems, default_phone_number_id: str) -> str:
    """The phone_number_id a change is about (the configured one if Meta left it out)."""
    metadata = items.metadata
    return (metadata.phone_number_id if metadata else None) or default_phone_number_id


def _message_sources(change_path: str, path: str, message: InboundMessage) -> dict[str, str]:
    """Where in the delivery's JSON each column of a message row comes from."""
    sources = {
        "phone_number_id": f"{change_path}.metadata.phone_number_id",
        "to_number": f"{change_path}.metadata.display_phone_number",
        "message_id": f"{path}.id",
        "from_number": f"{path}.from",
        "user_id": f"{path}.from_user_id",
        "message_type": f"{path}.type",
        "context_message_id": f"{path}.reaction.message_id"
        if message.type == "reaction"
        else f"{path}.context.id",
        "media_id": f"{path}.{message.type}.id",
        "mime_type": f"{path}.{message.type}.mime_type",
        "media_sha256": f"{path}.{message.type}.sha256",
    }
    return sources


def incoming_messages(
    items: ChangeItems,
    default_phone_number_id: str,
    received_at: datetime,
    rejections: list[Rejection],
) -> list[Incoming]:
    """The storable messages of a change, each with its customer; the others are rejected.

    A missing timestamp is `received_at`.
    """
    phone_number_id = business_number(items, default_phone_number_id)
    to_number = items.metadata.display_phone_number if items.metadata else None
    senders = _Senders(items.contacts)
    result = []
    for k, message, raw in items.messages:
        path = f"{items.path}.messages.{k}"
        contact = senders.of(message)
        row = _message_row(
            message,
            raw,
            phone_number_id=phone_number_id,
            from_number=message.from_ or (contact.wa_id if contact else None),
            user_id=message.from_user_id or (contact.user_id if contact else None),
            from_name=contact.profile.name if contact and contact.profile else None,
            to_number=to_number,
            received_at=received_at,
        )
        sources = _message_sources(items.path, path, message)
        problem = _too_long(row, _MESSAGE_LENGTHS, sources, path)
        if not row["message_id"]:
            problem = Rejection(f"{path}.id", "empty: a message needs its wamid")
        if problem is not None:
            rejections.append(problem)
            continue
        number, user_id = row["from_number"], row["user_id"]
        customer = Customer(phone_number_id, number, user_id) if number or user_id else None
        result.append(Incoming(row=row, customer=customer, contact_name=row["from_name"]))
    return result


def _content_columns(message: InboundMessage, raw: dict[str, Any]) -> dict[str, Any]:
    """The type-specific columns of a message; unknown types fill none."""
    columns: dict[str, Any] = {}
    media = message.media
    if media is not None:
        columns |= {
            "media_id": media.id,
            "mime_type": media.mime_type,
            "media_sha256": media.sha256,
            "caption": media.caption,
            "filename": media.filename,
            "media_state": MediaState.PENDING if media.id else None,
        }
    elif message.type == "text" and message.text:
        columns["text_body"] = message.text.body
    elif message.type == "location" and message.location:
        location = message.location
        columns |= {
            "latitude": location.latitude,
            "longitude": location.longitude,
            "location_name": location.name,
            "location_address": location.address,
        }
    elif message.type == "interactive" and message.interactive:
        interactive = message.interactive
        reply = interactive.button_reply or interactive.list_reply
        if reply is not None:
            columns["text_body"] = reply.title
        elif interactive.nfm_reply is not None:
            columns["text_body"] = interactive.nfm_reply.body
    elif message.type == "button" and message.button:
        columns["text_body"] = message.button.text or message.button.payload
    elif message.type == "reaction" and message.reaction:
        columns["text_body"] = message.reaction.emoji
    elif message.type == "order" and message.order:
        columns["text_body"] = message.order.text
    elif message.type == "system" and message.system:
        columns["text_body"] = message.system.body
    elif message.type == "contacts" and message.contacts:
        names = [
            c.name.formatted_name for c in message.contacts if c.name and c.name.formatted_name
        ]
        columns["text_body"] = ", ".join(names) or None
    # A reaction points at the message it reacts to; any other message at the one it answers.
    if message.type == "reaction" and message.reaction:
        columns["context_message_id"] = message.reaction.message_id
    elif message.context is not None:
        columns["context_message_id"] = message.context.id
    if message.errors:
        columns["errors"] = raw.get("errors")
    return columns


# Every row carries every key: a multi-row INSERT needs the same columns in each row.
_EMPTY_MESSAGE = dict.fromkeys(
    (
        "text_body",
        "media_id",
        "media_url",
        "mime_type",
        "caption",
        "filename",
        "media_sha256",
        "media_size",
        "media_state",
        "media_error",
        "media_path",
        "latitude",
        "longitude",
        "location_name",
        "location_address",
        "context_message_id",
        "status_at",
        "errors",
    )
)


def _message_row(
    message: InboundMessage,
    raw: dict[str, Any],
    *,
    phone_number_id: str,
    from_number: str | None,
    user_id: str | None,
    from_name: str | None,
    to_number: str | None,
    received_at: datetime,
) -> dict[str, Any]:
    """The whatsapp_whatsappmessage row of an inbound message (no conversation yet)."""
    return _safe_strings(
        {
            **_EMPTY_MESSAGE,
            "message_id": message.id,
            "conversation_id": None,
            "direction": Direction.INBOUND,
            "phone_number_id": phone_number_id,
            "from_number": from_number,
            "from_name": from_name,
            "to_number": to_number,
            "user_id": user_id,
            "message_type": message.type,
            "timestamp": message.timestamp or received_at,
            "status": MessageStatus.RECEIVED,
            "notes": "",
            "raw": raw,
            "created_at": received_at,
            **_content_columns(message, raw),
        }
    )


def status_rows(
    items: ChangeItems, received_at: datetime, rejections: list[Rejection]
) -> list[dict[str, Any]]:
    """The whatsapp_whatsappmessagestatus rows of a change's storable statuses."""
    rows = []
    for k, status, raw in items.statuses:
        path = f"{items.path}.statuses.{k}"
        row = _status_row(status, raw, received_at)
        recipient = "recipient_id" if status.recipient_id else "recipient_user_id"
        sources = {
            "message_id": f"{path}.id",
            "status": f"{path}.status",
            "recipient_id": f"{path}.{recipient}",
        }
        problem = _too_long(row, _STATUS_LENGTHS, sources, path)
        if not row["message_id"]:
            problem = Rejection(f"{path}.id", "empty: a status needs the wamid it is about")
        if problem is not None:
            rejections.append(problem)
            continue
        rows.append(row)
    return rows


def _status_row(status: Status, raw: dict[str, Any], received_at: datetime) -> dict[str, Any]:
    return _safe_strings(
        {
            "message_id": status.id,
            "status": status.status,
            "timestamp": status.timestamp or received_at,
            "recipient_id": status.recipient_id or status.recipient_user_id,
            "errors": raw.get("errors"),
            "pricing": raw.get("pricing"),
            "conversation": raw.get("conversation"),
            "raw": raw,
            "created_at": received_at,
        }
    )


@dataclass(frozen=True)
class CustomerCall:
    """A call event of a change (its id checked), with the customer it is from or to."""

    call: Call
    customer: Customer | None
    contact_name: str | None


def calls_of(
    items: ChangeItems, default_phone_number_id: str, rejections: list[Rejection]
) -> list[CustomerCall]:
    """The storable call events of a change; those whose ids do not fit are rejected."""
    phone_number_id = business_number(items, default_phone_number_id)
    names = {c.wa_id: c.profile.name for c in items.contacts if c.wa_id and c.profile}
    result = []
    for k, call, _raw in items.calls:
        path = f"{items.path}.calls.{k}"
        values = _safe_strings(
            {
                "phone_number_id": phone_number_id,
                "phone_number": call.from_,
                "user_id": call.from_user_id,
                "call_id": call.id,
                "direction": call.direction,
            }
        )
        sources = {
            "call_id": f"{path}.id",
            "direction": f"{path}.direction",
            "phone_number_id": f"{items.path}.metadata.phone_number_id",
            "phone_number": f"{path}.from",
            "user_id": f"{path}.from_user_id",
        }
        problem = _too_long(values, _CALL_LENGTHS, sources, path)
        if not call.id:
            problem = Rejection(f"{path}.id", "empty: a call needs its id")
        if problem is not None:
            rejections.append(problem)
            continue
        number, user_id = values["phone_number"], values["user_id"]
        customer = Customer(phone_number_id, number, user_id) if number or user_id else None
        result.append(CustomerCall(call, customer, names.get(call.from_ or "")))
    return result

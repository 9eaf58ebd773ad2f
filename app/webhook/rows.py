"""From Meta's models to table rows: who sent a message, and which columns each type fills.

The seed's "Message Types Handled" table, extended to every type Meta documents: the
chosen title of an interactive or button reply is the text; media keep Meta's media id
(the file is fetched by a background job); every type keeps its payload in `raw`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.db import strip_nul
from app.models import Direction, MediaState, MessageStatus
from app.webhook.schemas import Contact, InboundMessage, MessagesValue, Status


def clip(value: str | None, limit: int) -> str | None:
    """`value` cut to a column's length, so an odd value is stored instead of refused."""
    return value[:limit] if value is not None and len(value) > limit else value


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
    """A message of a change with what the change says about its sender and recipient."""

    message: InboundMessage
    phone_number_id: str
    customer: Customer | None
    contact_name: str | None
    to_number: str | None
    timestamp: datetime


def _sender_contact(message: InboundMessage, contacts: list[Contact]) -> Contact | None:
    """The contact entry describing the message's sender (by number, by user id, or alone)."""
    for contact in contacts:
        if message.from_ and contact.wa_id == message.from_:
            return contact
        if message.from_user_id and contact.user_id == message.from_user_id:
            return contact
    return contacts[0] if len(contacts) == 1 else None


def incoming_messages(
    value: MessagesValue, default_phone_number_id: str, received_at: datetime
) -> list[Incoming]:
    """The messages of a change, each with its customer; a missing timestamp is `received_at`."""
    metadata = value.metadata
    phone_number_id = ((metadata and metadata.phone_number_id) or default_phone_number_id)[:64]
    to_number = metadata.display_phone_number if metadata else None
    result = []
    for message in value.messages:
        contact = _sender_contact(message, value.contacts)
        phone_number = message.from_ or (contact.wa_id if contact else None)
        user_id = message.from_user_id or (contact.user_id if contact else None)
        customer = (
            Customer(phone_number_id, clip(phone_number, 32), clip(user_id, 128))
            if phone_number or user_id
            else None
        )
        result.append(
            Incoming(
                message=message,
                phone_number_id=phone_number_id,
                customer=customer,
                contact_name=contact.profile.name if contact and contact.profile else None,
                to_number=to_number,
                timestamp=message.timestamp or received_at,
            )
        )
    return result


def _content_columns(message: InboundMessage) -> dict[str, Any]:
    """The type-specific columns of a message; unknown types fill none."""
    columns: dict[str, Any] = {}
    media = message.media
    if media is not None:
        columns |= {
            "media_id": clip(media.id, 255),
            "mime_type": clip(media.mime_type, 255),
            "media_sha256": clip(media.sha256, 128),
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
        columns["context_message_id"] = clip(message.reaction.message_id, 255)
    elif message.context is not None:
        columns["context_message_id"] = clip(message.context.id, 255)
    if message.errors:
        columns["errors"] = message.raw.get("errors")
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


def message_row(
    incoming: Incoming, conversation_id: int | None, received_at: datetime
) -> dict[str, Any]:
    """The whatsapp_whatsappmessage row of an inbound message."""
    message = incoming.message
    customer = incoming.customer
    row: dict[str, Any] = {
        **_EMPTY_MESSAGE,
        "message_id": message.id,
        "conversation_id": conversation_id,
        "direction": Direction.INBOUND,
        "phone_number_id": incoming.phone_number_id,
        "from_number": customer.phone_number if customer else None,
        "from_name": incoming.contact_name,
        "to_number": clip(incoming.to_number, 32),
        "user_id": customer.user_id if customer else None,
        "message_type": clip(message.type, 32),
        "timestamp": incoming.timestamp,
        "status": MessageStatus.RECEIVED,
        "notes": "",
        "raw": message.raw,
        "created_at": received_at,
        **_content_columns(message),
    }
    # String (VARCHAR) columns are not SafeText; escape NUL everywhere for PostgreSQL.
    result: dict[str, Any] = strip_nul(row)
    return result


def status_row(status: Status, received_at: datetime) -> dict[str, Any]:
    """The whatsapp_whatsappmessagestatus row of a status report."""
    raw = status.raw
    row = {
        "message_id": status.id,
        "status": clip(status.status, 32),
        "timestamp": status.timestamp or received_at,
        "recipient_id": clip(status.recipient_id or status.recipient_user_id, 128),
        "errors": raw.get("errors"),
        "pricing": raw.get("pricing"),
        "conversation": raw.get("conversation"),
        "raw": raw,
        "created_at": received_at,
    }
    result: dict[str, Any] = strip_nul(row)
    return result

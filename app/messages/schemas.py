"""Shapes of the messages API: query parameters, request bodies and responses."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.business_numbers import number_filter
from app.models import MAX_ID
from app.pagination import PageParams
from app.phone import normalize_customer

MAX_NOTES_LENGTH = 10_000
MAX_MARK_READ_IDS = 1000

MessageStatusName = Literal[
    "received", "read", "queued", "accepted", "sent", "delivered", "played", "failed"
]

EXAMPLE_WAMID = "wamid.HBgMOTE5ODc2NTQzMjEwFQIAEhgUM0VCMEQ3RkQ5QTc1QjNGRkM3MjAA"


class MessageListParams(PageParams):
    """Filters and paging of the message list; every filter given must match."""

    phone: str | None = Field(
        None,
        max_length=128,
        description="A customer's number written any way (`+91 98765-43210`, `0091…`, "
        "`919876543210`), or their business-scoped user id (`US.13491208655302741918`): "
        "messages from them, to them, or in their conversations.",
        examples=["919876543210"],
    )
    phone_number_id: str | None = number_filter("messages")
    message_type: str | None = Field(
        None,
        alias="type",
        max_length=32,
        description="Meta's message type: text, image, video, audio, document, sticker, "
        "location, contacts, interactive, button, reaction, order, system, unsupported, …",
        examples=["text"],
    )
    direction: Literal["in", "out"] | None = Field(
        None, description="`in`: from customers; `out`: sent by the business."
    )
    status: MessageStatusName | None = Field(
        None,
        description="Inbound: received or read. Outbound: Meta's delivery status.",
    )
    since: datetime | None = Field(
        None,
        description="Only messages at or after this time (ISO 8601; UTC when no offset).",
        examples=["2024-01-15T00:00:00Z"],
    )
    until: datetime | None = Field(
        None,
        description="Only messages before this time (ISO 8601; UTC when no offset).",
        examples=["2024-01-16T00:00:00Z"],
    )
    q: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="Text searched case-insensitively in text_body, caption and from_name.",
        examples=["order"],
    )
    conversation: int | None = Field(
        None, ge=1, le=MAX_ID, description="Only messages of the conversation with this id."
    )

    @field_validator("phone")
    @classmethod
    def _normalize_phone(cls, value: str | None) -> str | None:
        return normalize_customer(value) if value is not None else None

    @field_validator("since", "until")
    @classmethod
    def _in_utc(cls, value: datetime | None) -> datetime | None:
        # Naive times are UTC (as documented), so that since and until always compare.
        if value is None or value.tzinfo is None:
            return value.replace(tzinfo=UTC) if value else None
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise ValueError("time is out of range once converted to UTC") from None

    @model_validator(mode="after")
    def _since_before_until(self) -> Self:
        if self.since and self.until and self.since >= self.until:
            raise ValueError("since must be earlier than until")
        return self


class MessageOut(BaseModel):
    """A stored message, inbound or outbound, with every column useful to a client."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 4213,
                    "message_id": EXAMPLE_WAMID,
                    "conversation_id": 87,
                    "direction": "in",
                    "phone_number_id": "106540352242922",
                    "from_number": "919876543210",
                    "from_name": "John Doe",
                    "to_number": "15550783881",
                    "user_id": None,
                    "message_type": "text",
                    "text_body": "Hi, I need help with my order",
                    "media_id": None,
                    "media_url": None,
                    "mime_type": None,
                    "caption": None,
                    "filename": None,
                    "media_state": None,
                    "media_size": None,
                    "media_sha256": None,
                    "media_error": None,
                    "latitude": None,
                    "longitude": None,
                    "location_name": None,
                    "location_address": None,
                    "context_message_id": None,
                    "timestamp": "2024-01-15T10:30:00Z",
                    "status": "received",
                    "status_at": None,
                    "errors": None,
                    "notes": "",
                    "raw": {
                        "from": "919876543210",
                        "id": EXAMPLE_WAMID,
                        "timestamp": "1705314600",
                        "type": "text",
                        "text": {"body": "Hi, I need help with my order"},
                    },
                    "created_at": "2024-01-15T10:30:01.204311Z",
                }
            ]
        },
    )

    id: int
    message_id: str = Field(description="Meta's message id (wamid), unique.")
    conversation_id: int | None
    direction: str = Field(description="`in` or `out`.")
    phone_number_id: str = Field(description="The business number's Graph API id.")
    from_number: str | None
    from_name: str | None
    to_number: str | None
    user_id: str | None = Field(description="Meta's business-scoped user id, when sent.")
    message_type: str
    text_body: str | None = Field(
        description="Text, or the chosen title of an interactive or button reply."
    )
    media_id: str | None
    media_url: str | None = Field(description="Where this service serves the stored file.")
    mime_type: str | None
    caption: str | None
    filename: str | None
    media_state: str | None = Field(description="pending, stored or failed; null if no media.")
    media_size: int | None = Field(description="Bytes of the stored file.")
    media_sha256: str | None
    media_error: str | None
    latitude: float | None
    longitude: float | None
    location_name: str | None
    location_address: str | None
    context_message_id: str | None = Field(description="The wamid this message replies to.")
    timestamp: datetime = Field(description="When Meta says the message was sent (UTC).")
    status: str
    status_at: datetime | None = Field(description="When the status last moved.")
    errors: Any | None = Field(description="Meta's errors for an unsupported or failed message.")
    notes: str
    raw: Any | None = Field(description="The message object exactly as Meta sent it.")
    created_at: datetime = Field(description="When this service stored the message.")


class MessageList(BaseModel):
    """A page of messages, newest first."""

    count: int = Field(
        description="How many messages this page holds (not the total, which is never counted)."
    )
    messages: list[MessageOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page.",
        examples=["eyJsIjoibWVzc2FnZXMiLCJ0IjoiMjAyNC0wMS0xNVQxMDozMDowMCswMDowMCIsImkiOjQyMTN9"],
    )


class MessageNotesUpdate(BaseModel):
    """The editable part of a message: only its notes."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"notes": "Called back on 15 Jan, order #1182 resent"}]},
    )

    notes: str = Field(max_length=MAX_NOTES_LENGTH)


class MarkReadRequest(BaseModel):
    """Which inbound messages to mark read: give exactly one of the three fields."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"phone_number": "919876543210"},
                {"conversation_id": 87},
                {"message_ids": [EXAMPLE_WAMID]},
            ]
        },
    )

    message_ids: list[str] | None = Field(
        None,
        min_length=1,
        max_length=MAX_MARK_READ_IDS,
        description="These messages (wamids).",
    )
    conversation_id: int | None = Field(
        None, ge=1, le=MAX_ID, description="Every unread message of this conversation."
    )
    phone_number: str | None = Field(
        None,
        max_length=128,
        description="Every unread message from this customer number, written any way, "
        "or from this business-scoped user id.",
    )


class MarkReadResponse(BaseModel):
    """What one mark-read call changed."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"marked": 3, "conversations": [87]}]}
    )

    marked: int = Field(description="Messages this call moved from received to read.")
    conversations: list[int] = Field(
        description="Ids of the conversations whose unread_count this call lowered."
    )

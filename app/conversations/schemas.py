"""Shapes of the conversations API: query parameters, request bodies and responses."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.business_numbers import number_filter
from app.calls.schemas import CallOut
from app.messages.schemas import MAX_NOTES_LENGTH
from app.pagination import PageParams

# The calls a conversation's detail shows; GET /calls/?conversation= pages through all.
DETAIL_CALLS = 50


class ConversationListParams(PageParams):
    """Filters and paging of the conversation list; every filter given must match."""

    unread: bool | None = Field(
        None,
        description="true: only conversations with unread messages; false: only those without.",
    )
    q: str | None = Field(
        None,
        min_length=1,
        max_length=100,
        description="Text searched in the contact name (case-insensitive) and, by its "
        "digits, in the customer's number.",
        examples=["John"],
    )
    phone_number_id: str | None = number_filter("conversations")


class ConversationOut(BaseModel):
    """One customer of one business number, with its counters."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 87,
                    "phone_number_id": "106540352242922",
                    "business_number": "+1 555 000 1111",
                    "business_label": "support",
                    "phone_number": "919876543210",
                    "user_id": None,
                    "contact_name": "John Doe",
                    "notes": "",
                    "message_count": 15,
                    "unread_count": 3,
                    "call_count": 1,
                    "last_message_at": "2024-01-15T10:30:00Z",
                    "last_inbound_at": "2024-01-15T10:30:00Z",
                    "created_at": "2024-01-02T08:12:45.118023Z",
                    "updated_at": "2024-01-15T10:30:01.204311Z",
                }
            ]
        },
    )

    id: int
    phone_number_id: str = Field(description="The business number's Graph API id.")
    business_number: str | None = Field(
        None, description="The business number as people read it (WHATSAPP_PHONE_NUMBERS)."
    )
    business_label: str | None = Field(
        None, description="The business number's label (support, sales, ...)."
    )
    phone_number: str | None = Field(description="The customer's number (wa_id).")
    user_id: str | None = Field(description="Meta's business-scoped user id, when sent.")
    contact_name: str | None
    notes: str
    message_count: int
    unread_count: int = Field(description="Inbound messages not yet marked read.")
    call_count: int = Field(description="Calls with the customer, counted apart from messages.")
    last_message_at: datetime | None
    last_inbound_at: datetime | None = Field(
        description="The customer's last message (opens the 24-hour service window)."
    )
    created_at: datetime
    updated_at: datetime


class ConversationDetail(ConversationOut):
    """A conversation with its latest calls."""

    calls: list[CallOut] = Field(
        description=f"The conversation's calls, newest first (at most {DETAIL_CALLS})."
    )


class ConversationList(BaseModel):
    """A page of conversations, latest activity first."""

    count: int = Field(description="How many conversations this page holds (not the total).")
    conversations: list[ConversationOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page.",
        examples=[
            "eyJsIjoiY29udmVyc2F0aW9ucyIsInQiOiIyMDI0LTAxLTE1VDEwOjMwOjAwKzAwOjAwIiwiaSI6ODd9"
        ],
    )


class ConversationNotesUpdate(BaseModel):
    """The editable part of a conversation: only its notes."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"notes": "VIP customer; prefers English"}]},
    )

    notes: str = Field(max_length=MAX_NOTES_LENGTH)

"""Shapes of the calls API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.business_numbers import number_filter
from app.models import MAX_ID
from app.pagination import PageParams


class CallListParams(PageParams):
    """Filters and paging of the call list; every filter given must match."""

    conversation: int | None = Field(
        None, ge=1, le=MAX_ID, description="Only calls of the conversation with this id."
    )
    phone_number_id: str | None = number_filter("calls")


class CallOut(BaseModel):
    """A call with a customer: who, which way, and how it ended."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 12,
                    "call_id": "wacid.HBgLMTIxMTU1NTA4MjkVAgASGCAyREFDRkJDQ0Y1",
                    "conversation_id": 87,
                    "phone_number_id": "106540352242922",
                    "phone_number": "919876543210",
                    "user_id": None,
                    "direction": "USER_INITIATED",
                    "status": "completed",
                    "timestamp": "2024-01-15T10:30:00Z",
                    "started_at": "2024-01-15T10:30:04Z",
                    "ended_at": "2024-01-15T10:32:04Z",
                    "duration_seconds": 120,
                    "created_at": "2024-01-15T10:30:01.204311Z",
                    "updated_at": "2024-01-15T10:32:05.100000Z",
                }
            ]
        },
    )

    id: int
    call_id: str = Field(description="Meta's call id (wacid).")
    conversation_id: int | None
    phone_number_id: str = Field(description="The business number's Graph API id.")
    phone_number: str | None = Field(description="The customer's number (wa_id).")
    user_id: str | None = Field(description="Meta's business-scoped user id, when sent.")
    direction: str | None = Field(description="USER_INITIATED or BUSINESS_INITIATED.")
    status: str = Field(description="ringing, then completed (answered) or missed.")
    timestamp: datetime = Field(description="When the call began ringing.")
    started_at: datetime | None = Field(description="When it was answered.")
    ended_at: datetime | None
    duration_seconds: int | None
    created_at: datetime
    updated_at: datetime


class CallList(BaseModel):
    """A page of calls, newest first."""

    count: int = Field(description="How many calls this page holds (not the total).")
    calls: list[CallOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )

"""Shapes of the change-event stream: the list filters, and an event as clients see it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.changes.types import CHANGE_TYPES
from app.models import MAX_ID

MAX_PAGE = 500


class ChangeListParams(BaseModel):
    """Where to start, how many, and which events."""

    model_config = ConfigDict(extra="forbid")

    since: int | None = Field(
        None,
        ge=0,
        le=MAX_ID,
        description="Events with ids above this one. JSON: from the first event when left "
        "out; a stream starts at the newest. A stream's `Last-Event-ID` header wins.",
    )
    limit: int = Field(100, ge=1, le=MAX_PAGE, description="Events in a JSON page.")
    types: str | None = Field(
        None,
        description="Comma-separated event types to keep: " + ", ".join(CHANGE_TYPES) + ".",
        max_length=1000,
    )
    conversation: int | None = Field(
        None, ge=1, le=MAX_ID, description="Only the events of this conversation."
    )

    @field_validator("types")
    @classmethod
    def _known_types(cls, value: str | None) -> str | None:
        if value is None:
            return None
        unknown = [t for t in split_types(value) if t not in CHANGE_TYPES]
        if unknown:
            raise ValueError(
                f"unknown event type(s) {', '.join(unknown)}; known: {', '.join(CHANGE_TYPES)}"
            )
        return value

    def type_list(self) -> list[str] | None:
        """The types asked for, or None for all."""
        return split_types(self.types) if self.types else None


def split_types(value: str) -> list[str]:
    """`a,b , c` as ["a", "b", "c"]."""
    return [part.strip() for part in value.split(",") if part.strip()]


class ChangeOut(BaseModel):
    """One event: what happened (`type`), when, to which conversation, and its body."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 1207,
                    "type": "message.status",
                    "created_at": "2024-01-15T10:30:02Z",
                    "conversation_id": 12,
                    "data": {
                        "message_id": "wamid.HBgM...",
                        "status": "read",
                        "timestamp": "2024-01-15T10:30:01+00:00",
                        "recipient_id": "15551234567",
                        "errors": None,
                    },
                }
            ]
        },
    )

    id: int = Field(description="Ascends in commit order: resume after the last one seen.")
    type: str
    created_at: datetime
    conversation_id: int | None
    data: dict[str, Any]


class ChangeList(BaseModel):
    """A page of events, oldest first, and where the next page starts."""

    count: int
    events: list[ChangeOut]
    next_since: int = Field(description="Pass as `since` for the events after this page.")

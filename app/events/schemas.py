"""Shapes of the webhook event log API: list filters, and an event as clients see it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.models import WebhookEvent
from app.pagination import PageParams
from app.webhook.schemas import ItemRejection


class EventListParams(PageParams):
    """Filters and paging of the event log."""

    rejected: bool | None = Field(
        None,
        description="true: deliveries with rejected items (or refused whole); "
        "false: deliveries stored whole.",
    )


class EventSummary(BaseModel):
    """A delivery in the log: when it came, what it was about, what it stored."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    received_at: datetime
    object: str | None = Field(description="`whatsapp_business_account`, or null if unreadable.")
    fields: str | None = Field(description="The webhook fields of its changes, comma-separated.")
    stored_items: int = Field(description="Messages, statuses and calls it stored.")
    rejected_items: int = Field(description="Items that could not be stored.")


class EventOut(EventSummary):
    """A delivery with its body exactly as received and the reason for each rejection."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 42,
                    "received_at": "2024-01-15T10:30:00Z",
                    "object": "whatsapp_business_account",
                    "fields": "messages",
                    "stored_items": 1,
                    "rejected_items": 1,
                    "rejections": [
                        {
                            "path": "entry.0.changes.0.value.messages.1.id",
                            "reason": "Field required",
                        }
                    ],
                    "body": {"object": "whatsapp_business_account", "entry": []},
                    "body_text": None,
                }
            ]
        }
    )

    rejections: list[ItemRejection]
    body: Any | None = Field(description="The body as JSON, when it is JSON.")
    body_text: str | None = Field(
        description="The body as text when it is not JSON (undecodable bytes as U+FFFD)."
    )

    @classmethod
    def of(cls, event: WebhookEvent) -> EventOut:
        """The event with its body decoded for reading."""
        body, body_text = event.readable_body()
        return cls(
            id=event.id,
            received_at=event.received_at,
            object=event.object,
            fields=event.fields,
            stored_items=event.stored_items,
            rejected_items=event.rejected_items,
            rejections=[ItemRejection(**r) for r in event.rejections or []],
            body=body,
            body_text=body_text,
        )


class EventList(BaseModel):
    """A page of the event log, newest first."""

    count: int = Field(description="The number of events in this page (not in the log).")
    events: list[EventSummary]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )

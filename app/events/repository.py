"""SQL for the raw event log."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import WebhookEvent

_events = cast(Table, WebhookEvent.__table__)


class EventRepository:
    """Adds to the log of webhook bodies; rows are never changed."""

    model = WebhookEvent

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(
        self,
        *,
        raw_body: bytes,
        object_: str | None,
        fields: list[str],
        received_at: datetime,
        stored_items: int,
        rejections: list[dict[str, Any]],
    ) -> int:
        """Log a webhook body, byte for byte, with its outcome; return the event's id."""
        result = await self.session.execute(
            insert(_events).returning(_events.c.id),
            {
                "received_at": received_at,
                "object": object_,
                "fields": ",".join(fields)[:255] or None,
                "raw_body": raw_body,
                "stored_items": stored_items,
                "rejected_items": len(rejections),
                "rejections": rejections or None,
            },
        )
        return int(result.scalar_one())

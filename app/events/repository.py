"""SQL for the raw event log."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

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

    async def get_by_id(self, event_id: int) -> WebhookEvent | None:
        """The event with this id, or None."""
        return await self.session.get(WebhookEvent, event_id)

    async def list_newest_first(
        self, *, rejected: bool | None = None, before_id: int | None = None, limit: int
    ) -> list[WebhookEvent]:
        """Events by descending id, without their bodies' bytes loaded until read.

        `rejected` True keeps the deliveries with rejected items (or refused whole),
        False those stored whole. `before_id` is the keyset position.
        """
        stmt = select(WebhookEvent).order_by(WebhookEvent.id.desc()).limit(limit)
        if rejected is True:
            stmt = stmt.where(WebhookEvent.rejected_items > 0)
        elif rejected is False:
            stmt = stmt.where(WebhookEvent.rejected_items == 0)
        if before_id is not None:
            stmt = stmt.where(WebhookEvent.id < before_id)
        result = await self.session.execute(stmt.options(defer(WebhookEvent.raw_body)))
        return list(result.scalars().all())

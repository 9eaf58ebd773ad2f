"""SQL for the raw event log."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from app.array_insert import ArrayInsert
from app.models import WebhookEvent

_events = cast(Table, WebhookEvent.__table__)
_INSERT_EVENTS = ArrayInsert(
    _events,
    [
        "received_at",
        "object",
        "fields",
        "raw_body",
        "stored_items",
        "rejected_items",
        "rejections",
    ],
    returning=["id"],
)


class EventRepository:
    """Adds to the log of webhook bodies; a body is never changed, only the outcome of
    reading it again (a replay)."""

    model = WebhookEvent

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_many(self, events: list[dict[str, Any]]) -> list[int]:
        """Log webhook bodies, byte for byte, with their outcomes; return their ids in order.

        Each event is a dict of raw_body, object_, fields (a list), received_at,
        stored_items and rejections (a list of {path, reason}).
        """
        rows = [
            {
                "received_at": e["received_at"],
                "object": e["object_"],
                "fields": ",".join(e["fields"])[:255] or None,
                "raw_body": e["raw_body"],
                "stored_items": e["stored_items"],
                "rejected_items": len(e["rejections"]),
                "rejections": e["rejections"] or None,
            }
            for e in events
        ]
        if self.session.get_bind().dialect.name == "postgresql":
            result = await _INSERT_EVENTS.execute(self.session, rows)
            # One statement inserts the arrays in order, drawing ids from the sequence as
            # it goes: the ids in ascending order are the events in the order given.
            return sorted(int(id_) for id_ in result.scalars())
        result = await self.session.execute(
            insert(_events).returning(_events.c.id, sort_by_parameter_order=True), rows
        )
        return [int(id_) for id_ in result.scalars()]

    async def record_outcome(self, event_id: int, event: dict[str, Any]) -> None:
        """Replace an event's outcome (what it stored and rejected) with a new reading's.

        `event` has the keys of `add_many`'s events; its raw_body is not written.
        """
        await self.session.execute(
            update(WebhookEvent)
            .where(WebhookEvent.id == event_id)
            .values(
                object=event["object_"],
                fields=",".join(event["fields"])[:255] or None,
                stored_items=event["stored_items"],
                rejected_items=len(event["rejections"]),
                rejections=event["rejections"] or None,
            )
        )

    async def ids_received(
        self, *, since: datetime, until: datetime | None, rejected_only: bool
    ) -> list[int]:
        """Ids of the events received in [since, until), oldest first."""
        stmt = select(WebhookEvent.id).where(WebhookEvent.received_at >= since)
        if until is not None:
            stmt = stmt.where(WebhookEvent.received_at < until)
        if rejected_only:
            stmt = stmt.where(WebhookEvent.rejected_items > 0)
        return list((await self.session.scalars(stmt.order_by(WebhookEvent.id))).all())

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

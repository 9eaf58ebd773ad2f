"""SQL for the change-event stream: add events in the caller's transaction, read them back.

Ids ascend in commit order. A sequence hands out ids when rows are inserted, not when
they are committed, so two concurrent transactions could commit ids 11 and then 10, and
a reader that had seen 11 would never see 10. On PostgreSQL every statement that adds
events therefore first takes one transaction-level advisory lock, before it draws an id,
held until the commit: events are the last thing a transaction writes, so the lock is
held for a moment. The same statement queues one NOTIFY for the transaction (PostgreSQL
sends it at commit, and only then). SQLite has one writer at a time, so its ids are in
commit order already; a commit that added events wakes this process's listeners
(app.changes.bus).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.array_insert import ArrayInsert
from app.changes.types import ChangeType
from app.chunks import chunks
from app.models import ChangeEvent

# The NOTIFY channel of new events.
CHANNEL = "change_events"
# Set in session.info by every write of events; the bus wakes listeners on its commit.
CHANGES_WRITTEN = "changes_written"
_LOCK_KEY = 0x43484E47  # "CHNG"
# Part of every statement that adds events, so that it costs no round trip of its own: an
# advisory lock taken again by its holder is granted at once, and PostgreSQL sends one
# notification per transaction however often the same one is queued.
_LOCK_AND_NOTIFY = f"SELECT pg_advisory_xact_lock({_LOCK_KEY}), pg_notify('{CHANNEL}', '')"

_events = cast(Table, ChangeEvent.__table__)
_COLUMNS = ["type", "created_at", "conversation_id", "data"]
_INSERT = ArrayInsert(_events, _COLUMNS, first=_LOCK_AND_NOTIFY)
ROWS_PER_ARRAY = 1000


@dataclass(frozen=True)
class NewChange:
    """An event about to be written."""

    type: ChangeType
    conversation_id: int | None
    data: dict[str, Any]


class ChangeRepository:
    """Adds events to the caller's transaction (never commits) and lists them by id."""

    model = ChangeEvent

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _postgresql(self) -> bool:
        return self.session.get_bind().dialect.name == "postgresql"

    def _take_order(self) -> None:
        """Note that this transaction adds events; on PostgreSQL the statement that adds
        them serialises its commit with every other that adds events."""
        self.session.info[CHANGES_WRITTEN] = True

    async def add(self, change: NewChange, *, now: datetime) -> None:
        """Add one event."""
        await self.add_many([change], now=now)

    async def add_many(self, changes: Sequence[NewChange], *, now: datetime) -> None:
        """Add events in the order given: one array insert per thousand on PostgreSQL."""
        if not changes:
            return
        self._take_order()
        # Rows are made a batch at a time, so that a delivery of thousands of messages
        # leaves the event loop free between its statements.
        for part in chunks(changes, ROWS_PER_ARRAY):
            batch = [
                {
                    "type": str(c.type),
                    "created_at": now,
                    "conversation_id": c.conversation_id,
                    "data": c.data,
                }
                for c in part
            ]
            if self._postgresql():
                await _INSERT.execute(self.session, batch)
            else:
                await self.session.execute(insert(_events), list(batch))

    async def list_after(
        self,
        after_id: int,
        *,
        limit: int,
        types: Sequence[str] | None = None,
        conversation_id: int | None = None,
    ) -> list[ChangeEvent]:
        """Up to `limit` events with ids above `after_id`, oldest first."""
        stmt = select(ChangeEvent).where(ChangeEvent.id > after_id)
        if types:
            stmt = stmt.where(ChangeEvent.type.in_(types))
        if conversation_id is not None:
            stmt = stmt.where(ChangeEvent.conversation_id == conversation_id)
        result = await self.session.execute(stmt.order_by(ChangeEvent.id).limit(limit))
        return list(result.scalars())

    async def last_id(self) -> int:
        """The id of the newest event, or 0 when there is none."""
        result = await self.session.execute(select(ChangeEvent.id).order_by(ChangeEvent.id.desc()))
        return int(result.scalars().first() or 0)

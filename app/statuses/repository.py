"""SQL for delivery statuses: stored once per (wamid, status), applied forward only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, literal, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import String

from app.db import UTCDateTime
from app.models import OUTBOUND_STATUS_RANK, Direction, Message, MessageStatusUpdate
from app.upsert import dialect_insert


def status_rank(status: str) -> int | None:
    """Position of an outbound status in sent < delivered < read < played < failed."""
    return OUTBOUND_STATUS_RANK.get(status)


_message_rank = case(OUTBOUND_STATUS_RANK, value=Message.status, else_=-1)


class StatusRepository:
    """Stores Meta's status reports and moves messages' statuses forward."""

    model = MessageStatusUpdate

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock_messages(self, message_ids: list[str]) -> None:
        """Serialise, until commit, the transactions that store or apply statuses of these wamids.

        Without it, on PostgreSQL a status webhook and the insert of its message (after
        our send) can each run before the other commits: the status finds no message
        and the message finds no status. Locks are taken in one sorted order, so two
        batches cannot deadlock. SQLite needs nothing: BEGIN IMMEDIATE already
        serialises writers.
        """
        if not message_ids or self.session.get_bind().dialect.name != "postgresql":
            return
        await self.session.execute(
            text(
                "SELECT pg_advisory_xact_lock(k) FROM "
                "(SELECT DISTINCT hashtext(w) AS k FROM unnest(:wamids) AS w ORDER BY k) AS keys"
            ).bindparams(bindparam("wamids", type_=ARRAY(String()))),
            {"wamids": sorted(set(message_ids))},
        )

    async def insert_ignore(self, rows: list[dict[str, Any]]) -> int:
        """Insert status rows, skipping (wamid, status) pairs already stored.

        Returns how many were new.
        """
        if not rows:
            return 0
        stmt = (
            dialect_insert(self.session, MessageStatusUpdate)
            .on_conflict_do_nothing(
                index_elements=[MessageStatusUpdate.message_id, MessageStatusUpdate.status]
            )
            .returning(MessageStatusUpdate.id)
        )
        result = await self.session.execute(stmt, rows)
        return len(result.all())

    async def apply(
        self,
        message_id: str,
        status: str,
        timestamp: datetime,
        errors: Any | None = None,
    ) -> bool:
        """Move an outbound message to `status` if that is forward; True if it moved.

        One conditional UPDATE, so concurrent webhooks cannot move a message backwards:
        a `delivered` that arrives after `read` matches no row.
        """
        rank = status_rank(status)
        if rank is None:
            return False
        values: dict[str, Any] = {"status": status, "status_at": literal(timestamp, UTCDateTime())}
        if errors:
            values["errors"] = errors
        result = await self.session.execute(
            update(Message)
            .where(
                Message.message_id == message_id,
                Message.direction == Direction.OUTBOUND,
                _message_rank < rank,
            )
            .values(**values)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def apply_stored(self, message_id: str) -> bool:
        """Apply the furthest status already stored for a message that was just inserted.

        Meta's 'sent' webhook can arrive before the Graph API's answer to our send.
        """
        await self.lock_messages([message_id])
        result = await self.session.execute(
            select(MessageStatusUpdate).where(MessageStatusUpdate.message_id == message_id)
        )
        known = [s for s in result.scalars() if status_rank(s.status) is not None]
        if not known:
            return False
        best = max(known, key=lambda s: status_rank(s.status) or 0)
        return await self.apply(message_id, best.status, best.timestamp, best.errors)

    async def list_for_message(self, message_id: str) -> list[MessageStatusUpdate]:
        """Every status stored for a message, oldest first."""
        result = await self.session.execute(
            select(MessageStatusUpdate)
            .where(MessageStatusUpdate.message_id == message_id)
            .order_by(MessageStatusUpdate.timestamp, MessageStatusUpdate.id)
        )
        return list(result.scalars())

"""SQL for calls: each call id is one row, whichever of its events arrives first."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, case, func, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Call, CallStatus
from app.pagination import Cursor
from app.upsert import dialect_insert

# Columns of a call as the API shows it, in order.
CALL_COLUMNS = (
    "id",
    "call_id",
    "conversation_id",
    "phone_number_id",
    "phone_number",
    "user_id",
    "direction",
    "status",
    "timestamp",
    "started_at",
    "ended_at",
    "duration_seconds",
    "created_at",
    "updated_at",
)


class CallRepository:
    """Stores and lists calls."""

    model = Call

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def insert_ignore(self, rows: list[dict[str, Any]]) -> set[str]:
        """Insert calls not stored yet; return the call ids this statement stored first.

        INSERT … ON CONFLICT DO NOTHING: of two deliveries racing with the same call,
        exactly one sees it as new, so a call is counted once.
        """
        if not rows:
            return set()
        stmt = (
            dialect_insert(self.session, Call)
            .values(rows)
            .on_conflict_do_nothing(index_elements=[Call.call_id])
            .returning(Call.call_id)
        )
        result = await self.session.execute(stmt)
        return set(result.scalars())

    async def merge(self, row: dict[str, Any]) -> bool:
        """Fold a later event into its stored call, in one conditional UPDATE; return
        whether the call changed (a redelivered event changes nothing).

        The call's end (completed or missed) is never undone by a late `connect`, its
        time is its earliest event's, and what an event leaves out is kept.
        """
        values: dict[str, Any] = {
            "timestamp": case(
                (Call.timestamp > row["timestamp"], row["timestamp"]), else_=Call.timestamp
            ),
            "started_at": func.coalesce(row["started_at"], Call.started_at),
            "ended_at": func.coalesce(row["ended_at"], Call.ended_at),
            "duration_seconds": func.coalesce(row["duration_seconds"], Call.duration_seconds),
            "conversation_id": func.coalesce(Call.conversation_id, row["conversation_id"]),
            "direction": func.coalesce(Call.direction, row["direction"]),
            "updated_at": row["updated_at"],
        }
        changes = [Call.timestamp > row["timestamp"]]
        for name in ("started_at", "ended_at", "duration_seconds"):
            if row[name] is not None:
                changes.append(Call.__table__.c[name].is_distinct_from(row[name]))
        for name in ("conversation_id", "direction"):
            if row[name] is not None:
                changes.append(Call.__table__.c[name].is_(None))
        if row["status"] != CallStatus.RINGING:
            values["status"] = row["status"]
            changes.append(Call.status.is_distinct_from(row["status"]))
        result = await self.session.execute(
            update(Call)
            .where(Call.call_id == row["call_id"], or_(*changes))
            .values(**values)
            .returning(Call.id)
            .execution_options(synchronize_session=False)
        )
        return result.first() is not None

    async def list_rows_newest_first(
        self,
        *,
        limit: int,
        after: Cursor | None = None,
        conversation_id: int | None = None,
        phone_number_id: str | None = None,
    ) -> Sequence[Row[Any]]:
        """Up to `limit` calls (rows of CALL_COLUMNS) matching the filters, newest first."""
        stmt = select(*(Call.__table__.c[name] for name in CALL_COLUMNS))
        if conversation_id is not None:
            stmt = stmt.where(Call.conversation_id == conversation_id)
        if phone_number_id is not None:
            stmt = stmt.where(Call.phone_number_id == phone_number_id)
        if after is not None and after.at is not None:
            stmt = stmt.where(tuple_(Call.timestamp, Call.id) < tuple_(after.at, after.id))
        stmt = stmt.order_by(Call.timestamp.desc(), Call.id.desc()).limit(limit)
        return (await self.session.execute(stmt)).all()

    async def list_in_conversation(
        self,
        conversation_id: int,
        *,
        since: datetime | None = None,
        before: datetime | None = None,
    ) -> list[Call]:
        """The calls of a conversation at or after `since` and before `before` (no bound
        where None), oldest first."""
        stmt = select(Call).where(Call.conversation_id == conversation_id)
        if since is not None:
            stmt = stmt.where(Call.timestamp >= since)
        if before is not None:
            stmt = stmt.where(Call.timestamp < before)
        result = await self.session.execute(stmt.order_by(Call.timestamp, Call.id))
        return list(result.scalars())

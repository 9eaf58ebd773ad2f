"""SQL for delivery statuses: stored once per (wamid, status), applied forward only."""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from datetime import datetime
from typing import Any, cast

from sqlalchemy import JSON, String, Table, bindparam, case, func, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Integer

from app.array_insert import ArrayInsert
from app.chunks import ROWS_PER_STATEMENT, chunks
from app.db import UTCDateTime, json_text, utcnow, with_utc_zone
from app.models import OUTBOUND_STATUS_RANK, Direction, Message, MessageStatusUpdate
from app.upsert import dialect_insert


def status_rank(status: str) -> int | None:
    """Position of an outbound status in sent < delivered < read < played < failed."""
    return OUTBOUND_STATUS_RANK.get(status)


_messages = cast(Table, Message.__table__)
_statuses = cast(Table, MessageStatusUpdate.__table__)
_INSERT_STATUSES = ArrayInsert(
    _statuses,
    [c.name for c in _statuses.columns if not c.primary_key],
    on_conflict="(message_id, status) DO NOTHING",
    returning=["message_id", "status"],
)

# Advisory locks of the status path: (namespace, bucket of the wamid's hash).
_LOCK_NAMESPACE = 0x57A7
_LOCK_BUCKETS = 1024
# The buckets are computed here (at most 1,024 integers cross the wire, however many
# wamids a delivery holds) and locked in ascending order.
_LOCK_BUCKETS_SQL = text(
    f"SELECT pg_advisory_xact_lock({_LOCK_NAMESPACE}, k) FROM unnest(:buckets) AS k ORDER BY k"
).bindparams(bindparam("buckets", type_=ARRAY(Integer())))

_APPLY = (
    update(_messages)
    .where(
        _messages.c.message_id == bindparam("wamid"),
        _messages.c.direction == Direction.OUTBOUND,
        case(OUTBOUND_STATUS_RANK, value=_messages.c.status, else_=-1) < bindparam("new_rank"),
    )
    .values(
        status=bindparam("new_status"),
        status_at=bindparam("at", type_=UTCDateTime()),
        # None keeps the errors the message has (as SQL NULL, not JSON null).
        errors=func.coalesce(
            bindparam("new_errors", type_=JSON(none_as_null=True)), _messages.c.errors
        ),
    )
)


# PostgreSQL: wamids per statement when statuses are applied from arrays.
_APPLY_BATCH = 1000
_LOCK_STORED = text(
    f"SELECT message_id FROM {_messages.name} WHERE message_id = ANY(:wamids) "
    "ORDER BY message_id FOR UPDATE"
).bindparams(bindparam("wamids", type_=ARRAY(String())))
_RANK_SQL = " ".join(
    f"WHEN '{status}' THEN {rank}" for status, rank in OUTBOUND_STATUS_RANK.items()
)
_APPLY_ARRAYS = text(
    f"UPDATE {_messages.name} AS m SET status = u.new_status, status_at = u.at, "
    "errors = COALESCE(u.new_errors, m.errors) "
    "FROM unnest(CAST(:wamid AS varchar[]), CAST(:new_status AS varchar[]), "
    "CAST(:new_rank AS integer[]), CAST(:at AS timestamptz[]), CAST(:new_errors AS json[])) "
    "AS u(wamid, new_status, new_rank, at, new_errors) "
    f"WHERE m.message_id = u.wamid AND m.direction = '{Direction.OUTBOUND}' "
    f"AND (CASE m.status {_RANK_SQL} ELSE -1 END) < u.new_rank"
)


def _apply_arrays(params: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """_APPLY's parameters of many rows as _APPLY_ARRAYS takes them: one array each."""
    return {
        "wamid": [p["wamid"] for p in params],
        "new_status": [p["new_status"] for p in params],
        "new_rank": [p["new_rank"] for p in params],
        "at": [with_utc_zone(p["at"]) for p in params],
        "new_errors": [
            None if p["new_errors"] is None else json_text(p["new_errors"]) for p in params
        ],
    }


def _apply_parameters(
    wamid: str, status: str, rank: int, at: datetime, errors: Any | None
) -> dict[str, Any]:
    """The parameters of _APPLY; no errors (None or empty) keeps the message's own."""
    return {
        "wamid": wamid,
        "new_status": status,
        "new_rank": rank,
        "at": at,
        "new_errors": errors or None,
    }


class StatusRepository:
    """Stores Meta's status reports and moves messages' statuses forward."""

    model = MessageStatusUpdate

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock_messages(self, message_ids: Iterable[str]) -> None:
        """Serialise, until commit, the transactions that store or apply statuses of these wamids.

        Without it, on PostgreSQL a status webhook and the insert of its message (after
        our send) can each run before the other commits: the status finds no message
        and the message finds no status. A wamid maps to one of a fixed number of
        advisory locks, so a delivery of 35,000 statuses takes at most that many, and
        they are taken in one sorted order, so two batches cannot deadlock. SQLite needs
        nothing: BEGIN IMMEDIATE already serialises writers.
        """
        if self.session.get_bind().dialect.name != "postgresql":
            return
        buckets = sorted({zlib.crc32(w.encode()) % _LOCK_BUCKETS for w in message_ids})
        if buckets:
            await self.session.execute(_LOCK_BUCKETS_SQL, {"buckets": buckets})

    async def insert_ignore(self, rows: list[dict[str, Any]]) -> set[tuple[str, str]]:
        """Insert status rows, skipping (wamid, status) pairs already stored.

        Returns the (wamid, status) pairs that were new.
        """
        if not rows:
            return set()
        new: set[tuple[str, str]] = set()
        if self.session.get_bind().dialect.name == "postgresql":
            defaults = {"created_at": utcnow()}
            for batch in chunks(rows, 1000):
                result = await _INSERT_STATUSES.execute(self.session, batch, defaults)
                new.update((wamid, status) for wamid, status in result.all())
            return new
        stmt = (
            dialect_insert(self.session, _statuses)
            .on_conflict_do_nothing(index_elements=[_statuses.c.message_id, _statuses.c.status])
            .returning(_statuses.c.message_id, _statuses.c.status)
        )
        for batch in chunks(rows):
            result = await self.session.execute(stmt, list(batch))
            new.update((wamid, status) for wamid, status in result.all())
        return new

    async def apply_many(self, rows: list[dict[str, Any]]) -> None:
        """Move each outbound message of these status rows forward to its furthest status.

        Statuses of messages already stored are applied at once. For the others (a status
        that beat our send's answer) the wamids' locks are taken and the messages looked
        for again, so a send committing meanwhile is seen; one still missing picks its
        stored status up when its row is written (apply_stored).
        """
        ranked: dict[str, tuple[int, dict[str, Any]]] = {}
        for row in rows:
            rank = status_rank(row["status"])
            best = ranked.get(row["message_id"])
            if rank is not None and (best is None or rank > best[0]):
                ranked[row["message_id"]] = (rank, row)
        if not ranked:
            return
        postgres = self.session.get_bind().dialect.name == "postgresql"
        stored = self._lock_stored if postgres else self._stored
        found = await stored(sorted(ranked))
        missing = ranked.keys() - found
        if missing and postgres:
            await self.lock_messages(missing)
            found |= await stored(sorted(missing))
        # The parameters are made a batch at a time, so that tens of thousands of statuses
        # leave the event loop free between batches.
        for batch in chunks(sorted(found), _APPLY_BATCH if postgres else ROWS_PER_STATEMENT):
            params = [
                _apply_parameters(
                    wamid,
                    ranked[wamid][1]["status"],
                    ranked[wamid][0],
                    ranked[wamid][1]["timestamp"],
                    ranked[wamid][1]["errors"],
                )
                for wamid in batch
            ]
            if postgres:
                # One statement for the batch, its arrays encoded by the driver; the rows
                # are already locked (_lock_stored), in wamid order.
                await self.session.execute(_APPLY_ARRAYS, _apply_arrays(params))
            else:
                # One statement compiled once, its rows in wamid order.
                await self.session.execute(_APPLY, params)

    async def _stored(self, wamids: list[str]) -> set[str]:
        """Which of these wamids are stored messages."""
        found: set[str] = set()
        for batch in chunks(wamids):
            result = await self.session.execute(
                select(_messages.c.message_id).where(_messages.c.message_id.in_(batch))
            )
            found.update(result.scalars())
        return found

    async def _lock_stored(self, wamids: list[str]) -> set[str]:
        """Which of these wamids are stored messages, their rows locked until commit in
        wamid order (PostgreSQL), so that transactions moving the same messages forward
        never wait for each other in a circle."""
        found: set[str] = set()
        for batch in chunks(wamids, _APPLY_BATCH):
            result = await self.session.execute(_LOCK_STORED, {"wamids": list(batch)})
            found.update(result.scalars())
        return found

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
        result = await self.session.execute(
            _APPLY, _apply_parameters(message_id, status, rank, timestamp, errors)
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

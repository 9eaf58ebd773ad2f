"""SQL for delivery statuses: stored once per (wamid, status), applied forward only."""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import JSON, String, Table, any_, bindparam, case, func, select, text, update
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

# What moving a message to a new status writes (_APPLY and _MOVE).
_NEW_STATUS = {
    "status": bindparam("new_status"),
    "status_at": bindparam("at", type_=UTCDateTime()),
    # None keeps the errors the message has (as SQL NULL, not JSON null).
    "errors": func.coalesce(
        bindparam("new_errors", type_=JSON(none_as_null=True)), _messages.c.errors
    ),
}
_APPLY = (
    update(_messages)
    .where(
        _messages.c.message_id == bindparam("wamid"),
        _messages.c.direction == Direction.OUTBOUND,
        case(OUTBOUND_STATUS_RANK, value=_messages.c.status, else_=-1) < bindparam("new_rank"),
    )
    .values(_NEW_STATUS)
)


# PostgreSQL: wamids per statement when statuses are applied from arrays.
_APPLY_BATCH = 1000
# A stored message as a status finds it: enough to decide in Python, under its lock,
# whether the status moves it forward, and to place the status's event.
_STORED_COLUMNS = (
    _messages.c.id,
    _messages.c.message_id,
    _messages.c.conversation_id,
    _messages.c.direction,
    _messages.c.status,
)
_LOCK_STORED = (
    select(*_STORED_COLUMNS)
    .where(_messages.c.message_id == any_(bindparam("wamids", type_=ARRAY(String()))))
    .order_by(_messages.c.message_id)
    .with_for_update()
)
# Moves messages found and locked by _LOCK_STORED, by primary key: whether each moves
# forward was decided under the lock.
_MOVE_ARRAYS = text(
    f"UPDATE {_messages.name} AS m SET status = u.new_status, status_at = u.at, "
    "errors = COALESCE(u.new_errors, m.errors) "
    "FROM unnest(CAST(:id AS bigint[]), CAST(:new_status AS varchar[]), "
    "CAST(:at AS timestamptz[]), CAST(:new_errors AS json[])) "
    "AS u(id, new_status, at, new_errors) WHERE m.id = u.id"
)
_MOVE = update(_messages).where(_messages.c.id == bindparam("message_pk")).values(_NEW_STATUS)


@dataclass(frozen=True)
class StoredMessage:
    """A message a status names, as it was when the status found it."""

    id: int
    conversation_id: int | None
    direction: str
    status: str


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


def _forward_moves(
    rows: list[dict[str, Any]], found: dict[str, StoredMessage]
) -> list[dict[str, Any]]:
    """_MOVE's parameters for each stored outbound message that one of these status rows
    moves forward (to the furthest of them), in wamid order."""
    furthest: dict[str, tuple[int, dict[str, Any]]] = {}
    for row in rows:
        rank = status_rank(row["status"])
        best = furthest.get(row["message_id"])
        if rank is not None and (best is None or rank > best[0]):
            furthest[row["message_id"]] = (rank, row)
    moves = []
    for wamid in sorted(furthest.keys() & found.keys()):
        message = found[wamid]
        rank, row = furthest[wamid]
        current = OUTBOUND_STATUS_RANK.get(message.status, -1)
        if message.direction == Direction.OUTBOUND and current < rank:
            moves.append(
                {
                    "message_pk": message.id,
                    "new_status": row["status"],
                    "at": row["timestamp"],
                    "new_errors": row["errors"] or None,
                }
            )
    return moves


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

    async def apply_many(self, rows: list[dict[str, Any]]) -> dict[str, int | None]:
        """Move each outbound message of these status rows forward to its furthest status;
        return the conversation of each stored message they name.

        Statuses of messages already stored are applied at once. For the others (a status
        that beat our send's answer) the wamids' locks are taken and the messages looked
        for again, so a send committing meanwhile is seen; one still missing picks its
        stored status up when its row is written (apply_stored). The messages are locked
        (PostgreSQL; SQLite has one writer) before they are read, so what is decided
        from them holds until the commit.
        """
        wamids = sorted({row["message_id"] for row in rows})
        if not wamids:
            return {}
        postgres = self.session.get_bind().dialect.name == "postgresql"
        found = await self._stored(wamids, lock=postgres)
        missing = [wamid for wamid in wamids if wamid not in found]
        if missing and postgres:
            await self.lock_messages(missing)
            found |= await self._stored(missing, lock=True)
        moves = _forward_moves(rows, found)
        # The parameters are made a batch at a time, so that tens of thousands of statuses
        # leave the event loop free between batches.
        for batch in chunks(moves, _APPLY_BATCH if postgres else ROWS_PER_STATEMENT):
            if postgres:
                # One statement for the batch, its arrays encoded by the driver.
                await self.session.execute(
                    _MOVE_ARRAYS,
                    {
                        "id": [move["message_pk"] for move in batch],
                        "new_status": [move["new_status"] for move in batch],
                        "at": [with_utc_zone(move["at"]) for move in batch],
                        "new_errors": [
                            None if move["new_errors"] is None else json_text(move["new_errors"])
                            for move in batch
                        ],
                    },
                )
            else:
                await self.session.execute(_MOVE, list(batch))
        return {wamid: message.conversation_id for wamid, message in found.items()}

    async def _stored(self, wamids: list[str], *, lock: bool) -> dict[str, StoredMessage]:
        """The stored messages among these wamids; with `lock`, their rows locked until
        commit in wamid order (PostgreSQL), so that transactions moving the same messages
        forward never wait for each other in a circle."""
        found: dict[str, StoredMessage] = {}
        for batch in chunks(wamids, _APPLY_BATCH if lock else ROWS_PER_STATEMENT):
            if lock:
                result = await self.session.execute(_LOCK_STORED, {"wamids": list(batch)})
            else:
                result = await self.session.execute(
                    select(*_STORED_COLUMNS).where(_messages.c.message_id.in_(batch))
                )
            for id_, wamid, conversation_id, direction, status in result.all():
                found[wamid] = StoredMessage(id_, conversation_id, direction, status)
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

"""SQL for messages."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Integer,
    Row,
    Select,
    String,
    Table,
    and_,
    any_,
    bindparam,
    func,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import BindParameter

from app.array_insert import ArrayInsert
from app.chunks import ROWS_PER_STATEMENT, chunks
from app.conversations.repository import INBOUND_COUNTERS
from app.db import LIKE_ESCAPE, SafeJSON, UTCDateTime, as_json_text, escape_like, utcnow
from app.models import BigId, Conversation, Direction, Message, MessageStatus
from app.pagination import Cursor
from app.upsert import dialect_insert

_messages = cast(Table, Message.__table__)
_INSERT_MESSAGES = ArrayInsert(
    _messages,
    [c.name for c in _messages.columns if not c.primary_key],
    on_conflict="(message_id) DO NOTHING",
    returning=["message_id"],
)
# Locks, in id order, the conversations whose counters a delivery's messages move (one
# row, so that the INSERT it is joined with runs after it). Their locks are then held only
# from here to the commit: the conversations were found without locks.
_LOCK_CONVERSATIONS = (
    f"SELECT count(*) FROM (SELECT id FROM {Conversation.__tablename__} "
    "WHERE id = ANY(CAST(:lock_ids AS bigint[])) ORDER BY id FOR NO KEY UPDATE) AS locked"
)
_INSERT_NEW_MESSAGES = ArrayInsert(
    _messages,
    [c.name for c in _messages.columns if not c.primary_key],
    on_conflict="(message_id) DO NOTHING",
    returning=["message_id", "conversation_id", "timestamp"],
    first=_LOCK_CONVERSATIONS,
)
# The new messages and their conversations' counters in one statement: a delivery's
# messages cost one round trip to the database, not two.
_INSERT_COUNTED = text(
    f"WITH new AS ({_INSERT_NEW_MESSAGES.sql}), "
    "a AS (SELECT conversation_id AS id, count(*) AS n, max(timestamp) AS at FROM new "
    "WHERE conversation_id IS NOT NULL GROUP BY conversation_id), "
    f"counted AS (UPDATE {Conversation.__tablename__} AS c SET {INBOUND_COUNTERS} "
    "FROM a WHERE c.id = a.id RETURNING c.id, c.message_count) "
    "SELECT new.message_id, counted.message_count FROM new "
    "LEFT JOIN counted ON counted.id = new.conversation_id"
)


@dataclass(frozen=True)
class MessageFilters:
    """What a list of messages keeps: every filter given must match.

    `since` is inclusive, `until` exclusive. `text` matches text_body, caption or
    from_name, case-insensitively, as plain text (LIKE wildcards in it are escaped).
    """

    phone_number: str | None = None
    user_id: str | None = None
    phone_number_id: str | None = None
    message_type: str | None = None
    direction: str | None = None
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    text: str | None = None
    conversation_id: int | None = None


def involving(dialect: str) -> ColumnElement[bool]:
    """Messages from or to the customer number `:phone_number`, or in its conversations,
    in one statement.

    Each branch of the OR can use an index (to_number has none, so it is only checked
    for the rare messages that belong to no conversation), which PostgreSQL combines in
    a BitmapOr. There the conversation ids come from `= ANY(ARRAY(subquery))`, run once
    before the scan, because `IN (subquery)` inside an OR would be checked row by row
    on a scan of every message; SQLite looks the subquery's ids up in its index itself.
    """
    number = bindparam("phone_number", type_=String())
    ids = select(Conversation.id).where(Conversation.phone_number == number)
    in_conversations = (
        Message.conversation_id == any_(func.array(ids.scalar_subquery()))
        if dialect == "postgresql"
        else Message.conversation_id.in_(ids)
    )
    return or_(
        Message.from_number == number,
        in_conversations,
        and_(Message.conversation_id.is_(None), Message.to_number == number),
    )


def by_user_id() -> ColumnElement[bool]:
    """Messages of the customer with the business-scoped user id `:user_id`: their own
    (inbound or outbound), or in their conversations."""
    user_id = bindparam("user_id", type_=String())
    ids = select(Conversation.id).where(Conversation.user_id == user_id)
    return or_(Message.user_id == user_id, Message.conversation_id.in_(ids))


def _condition(name: str, dialect: str) -> ColumnElement[bool]:
    """The condition of the filter `name`, on the bound parameter of the same name."""
    value: BindParameter[Any] = bindparam(name)
    conditions: dict[str, Callable[[], ColumnElement[bool]]] = {
        "phone_number": lambda: involving(dialect),
        "user_id": by_user_id,
        "phone_number_id": lambda: Message.phone_number_id == value,
        "message_type": lambda: Message.message_type == value,
        "direction": lambda: Message.direction == value,
        "status": lambda: Message.status == value,
        "since": lambda: Message.timestamp >= value,
        "until": lambda: Message.timestamp < value,
        "text": lambda: or_(
            *(
                column.icontains(value, escape=LIKE_ESCAPE)
                for column in (Message.text_body, Message.caption, Message.from_name)
            )
        ),
        "conversation_id": lambda: Message.conversation_id == value,
    }
    return conditions[name]()


def _listed(name: str) -> ColumnElement[Any]:
    """The column `name` as a list's rows carry it: JSON as its text (app.db.as_json_text)."""
    column = _messages.c[name]
    return as_json_text(column) if isinstance(column.type, SafeJSON) else column


@lru_cache(maxsize=512)
def _newest_first(
    columns: tuple[str, ...] | None, dialect: str, given: tuple[str, ...], after: bool
) -> Select[Any]:
    """The statement of one shape of list: these columns (None: ORM objects), these
    filters given, continued after a cursor or not; every value a bound parameter.

    Built once per shape: constructing a statement and computing its cache key again
    for every request cost as much as running it.
    """
    stmt = select(Message) if columns is None else select(*(_listed(c) for c in columns))
    conditions = [_condition(name, dialect) for name in given]
    if after:
        # A row-value comparison, which both databases answer from the (timestamp, id)
        # index.
        conditions.append(
            tuple_(Message.timestamp, Message.id)
            < tuple_(bindparam("after_at", type_=UTCDateTime()), bindparam("after_id", type_=BigId))
        )
    return (
        stmt.where(*conditions)
        .order_by(Message.timestamp.desc(), Message.id.desc())
        .limit(bindparam("limit", type_=Integer()))
    )


def newest_first(
    columns: tuple[str, ...] | None,
    dialect: str,
    filters: MessageFilters,
    *,
    limit: int,
    after: Cursor | None,
) -> tuple[Select[Any], dict[str, Any]]:
    """The statement (see _newest_first) and its parameters for `filters`, newest first
    by (timestamp, id), up to `limit` rows after `after`."""
    values = {
        field.name: value
        for field in fields(filters)
        if (value := getattr(filters, field.name)) is not None
    }
    if "text" in values:
        values["text"] = escape_like(values["text"])
    stmt = _newest_first(columns, dialect, tuple(values), after is not None)
    values["limit"] = limit
    if after is not None:
        values["after_at"], values["after_id"] = after.at, after.id
    return stmt, values


@dataclass(frozen=True)
class ReadMark:
    """An inbound message that one mark-read call moved from received to read."""

    id: int
    message_id: str
    conversation_id: int | None
    phone_number_id: str
    timestamp: datetime


class MessageRepository:
    """Finds and stores messages; a wamid is stored once, whoever inserts it first."""

    model = Message

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def insert_ignore(self, rows: list[dict[str, Any]]) -> set[str]:
        """Insert messages, skipping wamids already stored; return the wamids that were new.

        INSERT … ON CONFLICT DO NOTHING, so two deliveries of the same message racing
        each other store it once and exactly one of them sees it as new. Rows go in
        bounded batches, each compiled once and sent as multi-row statements.
        """
        if not rows:
            return set()
        new: set[str] = set()
        if self.session.get_bind().dialect.name == "postgresql":
            defaults = {"notes": "", "created_at": utcnow()}
            for batch in chunks(rows, 1000):
                result = await _INSERT_MESSAGES.execute(self.session, batch, defaults)
                new.update(result.scalars())
            return new
        stmt = (
            dialect_insert(self.session, _messages)
            .on_conflict_do_nothing(index_elements=[_messages.c.message_id])
            .returning(_messages.c.message_id)
        )
        # A message row has some forty columns: batches this short keep each statement's
        # parameter handling to a few milliseconds of the event loop.
        for batch in chunks(rows, 100):
            result = await self.session.execute(stmt, list(batch))
            new.update(row[0] for row in result.all())
        return new

    def counts_as_it_inserts(self) -> bool:
        """Whether insert_ignore_counted can store inbound messages (PostgreSQL)."""
        return self._dialect() == "postgresql"

    async def insert_ignore_counted(self, rows: list[dict[str, Any]]) -> dict[str, int | None]:
        """Insert inbound messages, skipping wamids already stored, and add the new ones to
        their conversations' counters, one statement per batch of rows (PostgreSQL).

        Returns each new wamid with its conversation's message_count after its batch
        (None for a message without a conversation): counters only grow within a
        transaction, so a conversation's largest count is its count after them all.
        """
        defaults = {"notes": "", "created_at": utcnow()}
        counted: dict[str, int | None] = {}
        # Every conversation is locked by the first statement, in one id order, so that
        # transactions sharing conversations cannot deadlock.
        lock_ids = sorted({r["conversation_id"] for r in rows if r["conversation_id"] is not None})
        for batch in chunks(rows, ROWS_PER_STATEMENT):
            result = await self.session.execute(
                _INSERT_COUNTED,
                {**_INSERT_NEW_MESSAGES.parameters(batch, defaults), "lock_ids": lock_ids},
            )
            lock_ids = []
            counted.update({wamid: count for wamid, count in result.all()})
        return counted

    async def get_by_message_id(self, message_id: str) -> Message | None:
        """The message with this wamid, or None."""
        result = await self.session.execute(select(Message).where(Message.message_id == message_id))
        return result.scalar_one_or_none()

    async def get_by_id(self, id_: int) -> Message | None:
        """The message with this primary key, or None."""
        return await self.session.get(Message, id_)

    async def list_newest_first(
        self, filters: MessageFilters, *, limit: int, after: Cursor | None = None
    ) -> list[Message]:
        """Up to `limit` messages (ORM objects) matching `filters`, newest first."""
        stmt, values = newest_first(None, self._dialect(), filters, limit=limit, after=after)
        result = await self.session.execute(stmt, values)
        return list(result.scalars())

    async def list_rows_newest_first(
        self,
        filters: MessageFilters,
        columns: Sequence[str],
        *,
        limit: int,
        after: Cursor | None = None,
    ) -> Sequence[Row[Any]]:
        """Like list_newest_first, but plain rows of these columns (by name, in order).

        A list is read, serialised and forgotten: loading each row as an ORM object
        (identity map, instance state, attribute instrumentation) cost more than the
        query itself.
        """
        stmt, values = newest_first(
            tuple(columns), self._dialect(), filters, limit=limit, after=after
        )
        connection = await self.session.connection()
        rows: Sequence[Row[Any]] = (await connection.execute(stmt, values)).all()
        return rows

    def _dialect(self) -> str:
        return self.session.get_bind().dialect.name

    async def mark_received_as_read(
        self,
        *,
        read_at: datetime,
        message_ids: Sequence[str] | None = None,
        conversation_ids: Sequence[int] | None = None,
    ) -> list[ReadMark]:
        """Move inbound `received` messages to `read` and return exactly those it moved.

        One conditional UPDATE … RETURNING: of two concurrent calls for the same messages,
        each row is returned to only one of them (the other finds it no longer
        `received`), so callers can lower unread counters by what they get back.
        """
        conditions: list[ColumnElement[bool]] = [
            Message.direction == Direction.INBOUND,
            Message.status == MessageStatus.RECEIVED,
        ]
        if message_ids is not None:
            conditions.append(Message.message_id.in_(message_ids))
        if conversation_ids is not None:
            conditions.append(Message.conversation_id.in_(conversation_ids))
        result = await self.session.execute(
            update(Message)
            .where(*conditions)
            .values(status=MessageStatus.READ, status_at=read_at)
            .returning(
                Message.id,
                Message.message_id,
                Message.conversation_id,
                Message.phone_number_id,
                Message.timestamp,
            )
            .execution_options(synchronize_session=False)
        )
        return [ReadMark(*row) for row in result.all()]

    async def set_notes(self, message: Message, notes: str) -> Message:
        """Replace a message's notes (the one field people edit)."""
        message.notes = notes
        await self.session.flush()
        return message

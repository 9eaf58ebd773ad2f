"""SQL for messages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    Table,
    and_,
    any_,
    func,
    literal,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from app.chunks import chunks
from app.db import UTCDateTime
from app.models import Conversation, Direction, Message, MessageStatus
from app.pagination import Cursor
from app.upsert import dialect_insert

_messages = cast(Table, Message.__table__)


@dataclass(frozen=True)
class MessageFilters:
    """What a list of messages keeps: every filter given must match.

    `since` is inclusive, `until` exclusive. `text` matches text_body, caption or
    from_name, case-insensitively, as plain text (LIKE wildcards in it are escaped).
    """

    phone_number: str | None = None
    message_type: str | None = None
    direction: str | None = None
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    text: str | None = None
    conversation_id: int | None = None


def involving(phone_number: str, dialect: str) -> ColumnElement[bool]:
    """Messages from or to a customer number, or in its conversations, in one statement.

    Each branch of the OR can use an index (to_number has none, so it is only checked
    for the rare messages that belong to no conversation), which PostgreSQL combines in
    a BitmapOr. There the conversation ids come from `= ANY(ARRAY(subquery))`, run once
    before the scan, because `IN (subquery)` inside an OR would be checked row by row
    on a scan of every message; SQLite looks the subquery's ids up in its index itself.
    """
    ids = select(Conversation.id).where(Conversation.phone_number == phone_number)
    in_conversations = (
        Message.conversation_id == any_(func.array(ids.scalar_subquery()))
        if dialect == "postgresql"
        else Message.conversation_id.in_(ids)
    )
    return or_(
        Message.from_number == phone_number,
        in_conversations,
        and_(Message.conversation_id.is_(None), Message.to_number == phone_number),
    )


def _conditions(filters: MessageFilters, dialect: str) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.phone_number is not None:
        conditions.append(involving(filters.phone_number, dialect))
    if filters.message_type is not None:
        conditions.append(Message.message_type == filters.message_type)
    if filters.direction is not None:
        conditions.append(Message.direction == filters.direction)
    if filters.status is not None:
        conditions.append(Message.status == filters.status)
    if filters.since is not None:
        conditions.append(Message.timestamp >= filters.since)
    if filters.until is not None:
        conditions.append(Message.timestamp < filters.until)
    if filters.text is not None:
        conditions.append(
            or_(
                Message.text_body.icontains(filters.text, autoescape=True),
                Message.caption.icontains(filters.text, autoescape=True),
                Message.from_name.icontains(filters.text, autoescape=True),
            )
        )
    if filters.conversation_id is not None:
        conditions.append(Message.conversation_id == filters.conversation_id)
    return conditions


def newest_first(
    stmt: Select[Any], dialect: str, filters: MessageFilters, *, limit: int, after: Cursor | None
) -> Select[Any]:
    """`stmt` restricted to `filters`, newest first, up to `limit` rows after `after`.

    Ordered by (timestamp, id) descending and continued after `after` with a row-value
    comparison, which both databases answer from the (timestamp, id) index.
    """
    conditions = _conditions(filters, dialect)
    if after is not None:
        conditions.append(
            tuple_(Message.timestamp, Message.id)
            < tuple_(literal(after.at, UTCDateTime()), literal(after.id))
        )
    return (
        stmt.where(*conditions).order_by(Message.timestamp.desc(), Message.id.desc()).limit(limit)
    )


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
        stmt = (
            dialect_insert(self.session, _messages)
            .on_conflict_do_nothing(index_elements=[_messages.c.message_id])
            .returning(_messages.c.message_id)
        )
        new: set[str] = set()
        # A message row has some forty columns: batches this short keep each statement's
        # parameter handling to a few milliseconds of the event loop.
        for batch in chunks(rows, 100):
            result = await self.session.execute(stmt, list(batch))
            new.update(row[0] for row in result.all())
        return new

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
        stmt = newest_first(select(Message), self._dialect(), filters, limit=limit, after=after)
        result = await self.session.execute(stmt)
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
        stmt = newest_first(
            select(*(_messages.c[name] for name in columns)),
            self._dialect(),
            filters,
            limit=limit,
            after=after,
        )
        connection = await self.session.connection()
        rows: Sequence[Row[Any]] = (await connection.execute(stmt)).all()
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

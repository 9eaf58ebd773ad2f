"""SQL for conversations. Counters change only through atomic UPDATEs, never read-modify-write."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    DateTime,
    Integer,
    Row,
    Select,
    String,
    Table,
    bindparam,
    case,
    column,
    func,
    literal,
    or_,
    select,
    text,
    tuple_,
    update,
    values,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from app.array_insert import ArrayInsert
from app.chunks import chunks
from app.db import LIKE_ESCAPE, UTCDateTime, escape_like, utcnow
from app.models import BigId, Conversation
from app.pagination import Cursor
from app.phone import is_user_id
from app.upsert import dialect_insert

_conversations = cast(Table, Conversation.__table__)
_UPSERT_NUMBERS = ArrayInsert(
    _conversations,
    [
        "phone_number_id",
        "phone_number",
        "user_id",
        "contact_name",
        "notes",
        "message_count",
        "unread_count",
        "created_at",
        "updated_at",
    ],
    on_conflict="(phone_number_id, phone_number) DO UPDATE SET contact_name = "
    "COALESCE(EXCLUDED.contact_name, whatsapp_whatsappconversation.contact_name)",
    returning=["id", "phone_number_id", "phone_number"],
)

# The conversations of (phone_number_id, phone_number) pairs given as two arrays, with
# no lock taken.
_FIND_NUMBERS = text(
    f"SELECT c.id, c.phone_number_id, c.phone_number, c.contact_name FROM {_conversations.name} "
    "AS c JOIN unnest(:pnids, :numbers) AS k(pnid, number) "
    "ON c.phone_number_id = k.pnid AND c.phone_number = k.number"
).bindparams(bindparam("pnids", type_=ARRAY(String())), bindparam("numbers", type_=ARRAY(String())))


def _latest(current: Any, value: datetime | ColumnElement[datetime]) -> ColumnElement[datetime]:
    """SQL for "the later of the column and `value`", so a late old message never rewinds it."""
    ts = value if isinstance(value, ColumnElement) else literal(value, UTCDateTime())
    return case((or_(current.is_(None), current < ts), ts), else_=current)


def _new_row(
    phone_number_id: str, phone_number: str | None, user_id: str | None, contact_name: str | None
) -> dict[str, Any]:
    """The values of a conversation about to be created: no notes, no messages yet."""
    return {
        "phone_number_id": phone_number_id,
        "phone_number": phone_number,
        "user_id": user_id,
        "contact_name": contact_name,
        "notes": "",
        "message_count": 0,
        "unread_count": 0,
    }


# A VALUES list is compiled anew for every statement, so batches stay short.
_INCREMENTS_PER_STATEMENT = 200


def _later(column: str, value: str) -> str:
    return f"CASE WHEN c.{column} IS NULL OR c.{column} < {value} THEN {value} ELSE c.{column} END"


# On PostgreSQL the rows go in as three arrays: one statement of constant text, whatever
# the number of conversations (a VALUES list would be compiled anew each time).
# What `a.n` new inbound messages, the latest at `a.at`, do to conversation `c`.
INBOUND_COUNTERS = (
    "message_count = c.message_count + a.n, unread_count = c.unread_count + a.n, "
    f"last_message_at = {_later('last_message_at', 'a.at')}, "
    f"last_inbound_at = {_later('last_inbound_at', 'a.at')}"
)
_ADD_INBOUND_ARRAYS = text(
    f"UPDATE {_conversations.name} AS c SET {INBOUND_COUNTERS} "
    "FROM unnest(:ids, :counts, :ats) AS a(id, n, at) "
    "WHERE c.id = a.id RETURNING c.id, c.message_count"
).bindparams(
    bindparam("ids", type_=ARRAY(BigInteger())),
    bindparam("counts", type_=ARRAY(Integer())),
    bindparam("ats", type_=ARRAY(DateTime(timezone=True))),
)


@dataclass(frozen=True)
class InboundIncrement:
    """New inbound messages of one conversation: how many, and the latest one's time."""

    conversation_id: int
    count: int
    last_at: datetime


def _list_conditions(
    unread: bool | None, text: bool, digits: bool, business: bool
) -> list[ColumnElement[bool]]:
    """The filters given, on bound parameters `:text` and `:digits` (LIKE-escaped) and
    `:phone_number_id`."""
    c = _conversations.c
    conditions: list[ColumnElement[bool]] = []
    if business:
        conditions.append(c.phone_number_id == bindparam("phone_number_id", type_=String()))
    if unread is True:
        conditions.append(c.unread_count > 0)
    elif unread is False:
        conditions.append(c.unread_count == 0)
    if text:
        matches = [c.contact_name.icontains(bindparam("text", type_=String()), escape=LIKE_ESCAPE)]
        if digits:
            number = bindparam("digits", type_=String())
            matches.append(c.phone_number.contains(number, escape=LIKE_ESCAPE))
        conditions.append(or_(*matches))
    return conditions


# Each list statement is built once per shape (which filters, after a cursor or not),
# with every value a bound parameter: building it and computing its cache key again for
# every request cost as much as running it.


@lru_cache(maxsize=64)
def _dated(
    unread: bool | None, text: bool, digits: bool, business: bool, after: bool
) -> Select[Any]:
    """Conversations with messages, latest first, after `:after_at, :after_id` if
    `after`; up to `:limit`."""
    c = _conversations.c
    stmt = select(_conversations).where(
        *_list_conditions(unread, text, digits, business), c.last_message_at.is_not(None)
    )
    if after:
        stmt = stmt.where(
            tuple_(c.last_message_at, c.id)
            < tuple_(bindparam("after_at", type_=UTCDateTime()), bindparam("after_id", type_=BigId))
        )
    return stmt.order_by(c.last_message_at.desc(), c.id.desc()).limit(
        bindparam("limit", type_=Integer())
    )


@lru_cache(maxsize=64)
def _undated(
    unread: bool | None, text: bool, digits: bool, business: bool, after: bool
) -> Select[Any]:
    """Conversations without messages, newest id first, below `:after_id` if `after`;
    up to `:limit`."""
    c = _conversations.c
    stmt = select(_conversations).where(
        *_list_conditions(unread, text, digits, business), c.last_message_at.is_(None)
    )
    if after:
        stmt = stmt.where(c.id < bindparam("after_id", type_=BigId))
    return stmt.order_by(c.id.desc()).limit(bindparam("limit", type_=Integer()))


class ConversationRepository:
    """Finds and updates conversations (one per business number and customer)."""

    model = Conversation

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_by_id(self, conversation_id: int) -> Conversation | None:
        """The conversation with this id, or None."""
        return await self.session.get(Conversation, conversation_id)

    async def get_by_customer(self, phone_number_id: str, customer: str) -> Conversation | None:
        """The conversation of a business number with a customer, named by number or by
        business-scoped user id."""
        column = Conversation.user_id if is_user_id(customer) else Conversation.phone_number
        result = await self.session.execute(
            select(Conversation).where(
                Conversation.phone_number_id == phone_number_id, column == customer
            )
        )
        return result.scalar_one_or_none()

    async def upsert_customer(
        self,
        *,
        phone_number_id: str,
        phone_number: str | None,
        user_id: str | None,
        contact_name: str | None,
    ) -> int:
        """Find or create the conversation for a customer and return its id.

        A customer is found by `user_id` (Meta's business-scoped id) when one is known,
        else by number; the row learns whichever of the two it lacked. Counters are not
        touched here: they move only once the message is known to be new.
        """
        if user_id:
            found = await self.session.execute(
                select(Conversation.id).where(
                    Conversation.phone_number_id == phone_number_id,
                    Conversation.user_id == user_id,
                )
            )
            existing = found.scalar_one_or_none()
            if existing is not None:
                await self.session.execute(
                    update(Conversation)
                    .where(Conversation.id == existing)
                    .values(
                        phone_number=func.coalesce(phone_number, Conversation.phone_number),
                        contact_name=func.coalesce(contact_name, Conversation.contact_name),
                    )
                )
                return existing
        if not phone_number and not user_id:
            raise ValueError("a customer needs a phone number or a user id")
        conflict_column = Conversation.phone_number if phone_number else Conversation.user_id
        stmt = dialect_insert(self.session, Conversation).values(
            _new_row(phone_number_id, phone_number, user_id, contact_name)
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[Conversation.phone_number_id, conflict_column],
            set_={
                "contact_name": func.coalesce(
                    stmt.excluded.contact_name, Conversation.contact_name
                ),
                "user_id": func.coalesce(Conversation.user_id, stmt.excluded.user_id),
            },
        ).returning(Conversation.id)
        result = await self.session.execute(stmt)
        return int(result.scalar_one())

    async def add_messages(
        self,
        conversation_id: int,
        *,
        count: int,
        unread: int,
        last_message_at: datetime,
        last_inbound_at: datetime | None = None,
    ) -> int:
        """Add `count` messages (`unread` of them unread) in one atomic UPDATE.

        Returns message_count after the update: when it equals `count`, these were the
        conversation's first messages (concurrent updates serialise on the row, so exactly
        one caller can see that).
        """
        values: dict[str, object] = {
            "message_count": Conversation.message_count + count,
            "unread_count": Conversation.unread_count + unread,
            "last_message_at": _latest(Conversation.last_message_at, last_message_at),
        }
        if last_inbound_at is not None:
            values["last_inbound_at"] = _latest(Conversation.last_inbound_at, last_inbound_at)
        result = await self.session.execute(
            update(Conversation)
            .where(Conversation.id == conversation_id)
            .values(**values)
            .returning(Conversation.message_count)
        )
        return int(result.scalar_one())

    async def upsert_numbers(
        self, customers: list[tuple[str, str, str | None]]
    ) -> dict[tuple[str, str], int]:
        """Find or create the conversations of customers known by number:
        (phone_number_id, phone_number, contact_name) each.

        Returns their ids by (phone_number_id, phone_number). Counters are not touched
        here. On PostgreSQL, conversations that exist and keep their name are only read,
        not locked: a busy conversation's row lock is then held only from the counters'
        update to the commit (see MessageRepository.insert_ignore_counted), not through
        the whole transaction. The others are upserted in sorted batches, so concurrent
        deliveries lock shared conversations in the same order and cannot deadlock.
        """
        if not customers:
            return {}
        postgresql = self.session.get_bind().dialect.name == "postgresql"
        ids: dict[tuple[str, str], int] = {}
        if postgresql:
            ids, customers = await self._known_and_rest(customers)
        rows = [
            _new_row(phone_number_id, phone_number, None, contact_name)
            for phone_number_id, phone_number, contact_name in sorted(
                customers, key=lambda c: c[:2]
            )
        ]
        # Batches of rows, in this (sorted) order; each batch is one statement.
        if postgresql:
            now = utcnow()
            for batch in chunks(rows):
                result = await _UPSERT_NUMBERS.execute(
                    self.session, batch, {"created_at": now, "updated_at": now}
                )
                ids.update(((pnid, number), int(id_)) for id_, pnid, number in result.all())
            return ids
        table = _conversations
        stmt = dialect_insert(self.session, table)
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.phone_number_id, table.c.phone_number],
            set_={"contact_name": func.coalesce(stmt.excluded.contact_name, table.c.contact_name)},
        ).returning(table.c.id, table.c.phone_number_id, table.c.phone_number)
        for batch in chunks(rows):
            result = await self.session.execute(stmt, list(batch))
            ids.update(((pnid, number), int(id_)) for id_, pnid, number in result.all())
        return ids

    async def _known_and_rest(
        self, customers: list[tuple[str, str, str | None]]
    ) -> tuple[dict[tuple[str, str], int], list[tuple[str, str, str | None]]]:
        """The ids of the customers' existing conversations, read without locks, and the
        customers that still need an upsert: those without a conversation, and those
        whose conversation has another name than the one given."""
        found: dict[tuple[str, str], tuple[int, str | None]] = {}
        for batch in chunks(customers):
            result = await self.session.execute(
                _FIND_NUMBERS,
                {"pnids": [c[0] for c in batch], "numbers": [c[1] for c in batch]},
            )
            found.update(((pnid, number), (int(id_), name)) for id_, pnid, number, name in result)
        known: dict[tuple[str, str], int] = {}
        rest = []
        for pnid, number, name in customers:
            existing = found.get((pnid, number))
            if existing is None or (name is not None and name != existing[1]):
                rest.append((pnid, number, name))
            else:
                known[(pnid, number)] = existing[0]
        return known, rest

    async def add_inbound_many(self, increments: list[InboundIncrement]) -> dict[int, int]:
        """Add inbound messages to many conversations, in atomic UPDATEs of bounded size.

        Returns each conversation's message_count after the update (see add_messages for
        why that tells its first messages). The rows were locked, in a stable order, by
        the upserts earlier in the transaction, so this takes no new locks.
        """
        if not increments:
            return {}
        counts: dict[int, int] = {}
        if self.session.get_bind().dialect.name == "postgresql":
            for part in chunks(increments, 1000):
                result = await self.session.execute(
                    _ADD_INBOUND_ARRAYS,
                    {
                        "ids": [i.conversation_id for i in part],
                        "counts": [i.count for i in part],
                        "ats": [i.last_at for i in part],
                    },
                )
                counts.update((int(id_), int(count)) for id_, count in result.all())
            return counts
        for batch in chunks(increments, _INCREMENTS_PER_STATEMENT):
            counts.update(await self._add_inbound_batch(batch))
        return counts

    async def _add_inbound_batch(self, increments: Sequence[InboundIncrement]) -> dict[int, int]:
        """One UPDATE from a VALUES list (SQLite has no arrays to pass the rows in)."""
        added = (
            values(
                column("conversation_id", BigInteger),
                column("count", Integer),
                column("last_at", UTCDateTime()),
                name="added",
            )
            .data([(i.conversation_id, i.count, i.last_at) for i in increments])
            .cte("added")
        )
        stmt = (
            update(Conversation)
            .where(Conversation.id == added.c.conversation_id)
            .values(
                message_count=Conversation.message_count + added.c["count"],
                unread_count=Conversation.unread_count + added.c["count"],
                last_message_at=_latest(Conversation.last_message_at, added.c.last_at),
                last_inbound_at=_latest(Conversation.last_inbound_at, added.c.last_at),
            )
            .returning(Conversation.id, Conversation.message_count)
        )
        result = await self.session.execute(stmt)
        return {int(id_): int(count) for id_, count in result.all()}

    async def note_inbound_contact(self, conversation_id: int, at: datetime) -> None:
        """Record that the customer reached out at `at` without a message (a call): it
        opens the customer-service window, but counts no message."""
        await self.session.execute(
            update(Conversation)
            .where(Conversation.id == conversation_id)
            .values(last_inbound_at=_latest(Conversation.last_inbound_at, at))
        )

    async def add_calls(self, conversation_id: int, count: int) -> None:
        """Count `count` new calls on the conversation, atomically (apart from messages)."""
        await self.session.execute(
            update(Conversation)
            .where(Conversation.id == conversation_id)
            .values(call_count=Conversation.call_count + count)
        )

    async def remove_unread(self, conversation_id: int, count: int) -> None:
        """Lower unread_count by `count`, never below zero, atomically."""
        if count <= 0:
            return
        await self.session.execute(
            update(Conversation)
            .where(Conversation.id == conversation_id)
            .values(
                unread_count=case(
                    (Conversation.unread_count >= count, Conversation.unread_count - count),
                    else_=0,
                )
            )
        )

    async def list_ids_by_customer(self, customer: str) -> list[int]:
        """Ids of the conversations (one per business number) with this customer, named
        by number or by business-scoped user id."""
        column = Conversation.user_id if is_user_id(customer) else Conversation.phone_number
        result = await self.session.execute(
            select(Conversation.id).where(column == customer).order_by(Conversation.id)
        )
        return list(result.scalars())

    async def list_latest_activity_first(
        self,
        *,
        limit: int,
        after: Cursor | None = None,
        unread: bool | None = None,
        text: str | None = None,
        digits: str | None = None,
        phone_number_id: str | None = None,
    ) -> list[Row[Any]]:
        """Up to `limit` conversations (rows of every column), latest message first,
        those without messages last.

        `unread` True keeps conversations with unread messages, False those without.
        `text` matches the contact name case-insensitively; `digits`, when given, also
        matches numbers containing them. Conversations with a last_message_at come from
        a backward scan of the (last_message_at, id) index; the rare ones without follow
        by id, in a second query only when the first does not fill the page. Rows, not
        ORM objects: a list is serialised and forgotten, and loading objects cost more
        than the query.
        """
        shape = (
            unread,
            text is not None,
            bool(text is not None and digits),
            phone_number_id is not None,
        )
        values: dict[str, Any] = {"limit": limit}
        if phone_number_id is not None:
            values["phone_number_id"] = phone_number_id
        if text is not None:
            values["text"] = escape_like(text)
            values["digits"] = escape_like(digits) if digits else None
        connection = await self.session.connection()
        found: list[Row[Any]] = []
        if after is None or after.at is not None:
            if after is not None:
                values["after_at"], values["after_id"] = after.at, after.id
            result = await connection.execute(_dated(*shape, after is not None), values)
            found.extend(result.all())
        if len(found) < limit:
            undated_after = after is not None and after.at is None
            if after is not None:
                values["after_id"] = after.id
            values["limit"] = limit - len(found)
            result = await connection.execute(_undated(*shape, undated_after), values)
            found.extend(result.all())
        return found

    async def set_notes(self, conversation: Conversation, notes: str) -> Conversation:
        """Replace a conversation's notes (the one field people edit)."""
        conversation.notes = notes
        await self.session.flush()
        return conversation

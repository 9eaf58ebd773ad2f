"""The inbound path: a verified webhook becomes rows, all in the caller's one transaction.

Meta delivers at least once and concurrently, so everything here is idempotent and
order-independent: messages are insert-or-ignore by wamid, counters move only for the
messages this delivery stored first, statuses are insert-or-ignore by (wamid, status) and
only ever move a message forward. Rows that many deliveries touch (conversations,
messages) are written in a stable order so that concurrent deliveries cannot deadlock.

The body is kept in the event log whatever it holds. Reading it into rows takes no I/O
(app.webhook.prepared); a large body is read in another process (app.webhook.reader), so
that a 4 MB delivery does not hold the event loop, and every other request, while it is
parsed.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.autoreply.service import plan_replies
from app.calls.service import store_calls
from app.changes import bodies
from app.changes.repository import ChangeRepository, NewChange
from app.chunks import chunks
from app.config import Settings
from app.conversations.repository import ConversationRepository, InboundIncrement
from app.errors import BadRequest
from app.events.repository import EventRepository
from app.jobs import kinds
from app.jobs.repository import JobRepository
from app.message_templates.service import apply_updates
from app.messages.repository import MessageRepository
from app.models import MediaState
from app.statuses.repository import StatusRepository
from app.webhook.delivery import Rejection, refusal_json
from app.webhook.prepared import PreparedDelivery
from app.webhook.reader import BodyReader
from app.webhook.rows import Customer, Incoming
from app.webhook.schemas import CallsValue

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class NewInboundMessage:
    """An inbound message this delivery stored for the first time."""

    wamid: str
    conversation_id: int | None
    message_type: str
    text_body: str | None
    timestamp: datetime
    first_in_conversation: bool


@dataclass(frozen=True)
class IngestResult:
    """What one delivery newly stored; a redelivery yields no messages and no statuses."""

    event_id: int
    messages: list[NewInboundMessage]
    new_statuses: int
    calls: list[CallsValue]
    stored_items: int = 0
    rejections: list[Rejection] = field(default_factory=list)


@dataclass(frozen=True)
class Refused:
    """A signed body that is not a WhatsApp webhook: logged as rejected, answered 400."""

    event_id: int
    error: BadRequest


@dataclass(frozen=True)
class Delivery:
    """A signed body read into rows (or refused as no webhook), waiting to be stored."""

    body: bytes
    received_at: datetime
    prepared: PreparedDelivery | None
    refusal: BadRequest | None = None

    @property
    def items(self) -> int:
        """How many messages, statuses and calls it carries to store."""
        return self.prepared.stored_items if self.prepared is not None else 0


async def read(reader: BodyReader, settings: Settings, body: bytes, *, now: datetime) -> Delivery:
    """Read a signed body into the rows it stores; a body that is no webhook is refused."""
    try:
        prepared = await reader.read(body, settings.whatsapp_phone_number_id, now)
    except BadRequest as error:
        return Delivery(body, now, None, error)
    return Delivery(body, now, prepared)


async def store(
    session: AsyncSession, settings: Settings, deliveries: list[Delivery]
) -> list[IngestResult | Refused]:
    """Store deliveries together in the caller's transaction; one outcome each, in order.

    Every body goes into the event log. The messages, statuses and calls of all of them
    are written by the same few statements, and each delivery is told what it stored
    first: a message two of them carry counts as new for the earlier one only. Nothing is
    committed here: the caller commits it all at once, so a database failure stores
    nothing and Meta's retry finds a clean slate.
    """
    event_ids = await EventRepository(session).add_many([event_row(d) for d in deliveries])
    for event_id, delivery in zip(event_ids, deliveries, strict=True):
        _log(event_id, delivery)
    return await store_items(session, settings, deliveries, event_ids)


async def store_items(
    session: AsyncSession,
    settings: Settings,
    deliveries: list[Delivery],
    event_ids: list[int],
    *,
    auto_reply: bool = True,
) -> list[IngestResult | Refused]:
    """Store what deliveries already in the event log carry (`store` without the log).

    Idempotent like every write here: a replayed event adds only what is not stored yet.
    `auto_reply` False plans no automatic replies (a replay may be days late for them).
    """
    readable = [(i, d.prepared) for i, d in enumerate(deliveries) if d.prepared is not None]
    now = max(d.received_at for d in deliveries)
    changes: list[NewChange] = []
    messages = await _store_messages(
        session, settings, [m for _, p in readable for m in p.messages], now, changes
    )
    callers = [c for _, p in readable for c in p.callers]
    stored_calls = await store_calls(session, callers, now)
    changes.extend(
        bodies.call_received(
            caller.call.model_dump(mode="json", by_alias=True, exclude_none=True),
            stored_calls.conversations.get(caller.customer) if caller.customer else None,
            caller.customer.phone_number if caller.customer else None,
        )
        for caller in stored_calls.news
    )
    status_rows = [s for _, p in readable for s in p.statuses]
    new_statuses, status_conversations = await _store_statuses(session, status_rows)
    await apply_updates(session, [u for _, p in readable for u in p.template_updates])
    calls = [v for _, p in readable for v in p.calls]
    if auto_reply:
        await plan_replies(
            session,
            settings,
            IngestResult(event_id=event_ids[0], messages=messages, new_statuses=0, calls=calls),
            now=now,
        )
    changes += await _status_changes(status_rows, new_statuses, status_conversations)
    # Last, so that the lock ordering the events is held only until the commit.
    await ChangeRepository(session).add_many(changes, now=now)
    return _outcomes(deliveries, event_ids, messages, new_statuses)


async def _status_changes(
    rows: list[dict[str, Any]],
    new: set[tuple[str, str]],
    conversations: dict[str, int | None],
) -> list[NewChange]:
    """The event of each status stored for the first time, once each, in the conversation
    of its message when that is stored (a status may come first)."""
    found: list[NewChange] = []
    left = set(new)
    for n, row in enumerate(rows):
        key = (row["message_id"], row["status"])
        if key in left:
            left.discard(key)
            found.append(bodies.message_status(row, conversations.get(row["message_id"])))
        await _let_others_run(n)
    return found


async def _let_others_run(n: int) -> None:
    """Every few thousand rows of a large delivery, let other requests have the loop."""
    if n % 2000 == 1999:
        await asyncio.sleep(0)


def event_row(delivery: Delivery) -> dict[str, Any]:
    """The event log's row of a delivery: its body and what reading it found."""
    prepared = delivery.prepared
    if prepared is None:
        assert delivery.refusal is not None
        return {
            "raw_body": delivery.body,
            "object_": None,
            "fields": [],
            "received_at": delivery.received_at,
            "stored_items": 0,
            "rejections": refusal_json(delivery.refusal),
        }
    return {
        "raw_body": delivery.body,
        "object_": prepared.object_,
        "fields": prepared.fields,
        "received_at": delivery.received_at,
        "stored_items": prepared.stored_items,
        "rejections": [r.as_json() for r in prepared.rejections],
    }


def _outcomes(
    deliveries: list[Delivery],
    event_ids: list[int],
    messages: list[NewInboundMessage],
    new_statuses: set[tuple[str, str]],
) -> list[IngestResult | Refused]:
    """Each delivery's outcome, crediting what is new to the first delivery that has it."""
    message_owner: dict[str, int] = {}
    status_owner: dict[tuple[str, str], int] = {}
    # A delivery alone in its transaction owns everything new (the largest ones are).
    for i, delivery in enumerate(deliveries if len(deliveries) > 1 else []):
        if delivery.prepared is not None:
            for item in delivery.prepared.messages:
                message_owner.setdefault(item.row["message_id"], i)
            for row in delivery.prepared.statuses:
                status_owner.setdefault((row["message_id"], row["status"]), i)
    new_messages: dict[int, list[NewInboundMessage]] = {}
    for message in messages:
        new_messages.setdefault(message_owner.get(message.wamid, 0), []).append(message)
    status_counts: dict[int, int] = {}
    for key in new_statuses:
        owner = status_owner.get(key, 0)
        status_counts[owner] = status_counts.get(owner, 0) + 1
    outcomes: list[IngestResult | Refused] = []
    for i, (delivery, event_id) in enumerate(zip(deliveries, event_ids, strict=True)):
        if delivery.prepared is None:
            assert delivery.refusal is not None
            outcomes.append(Refused(event_id, delivery.refusal))
            continue
        outcomes.append(
            IngestResult(
                event_id=event_id,
                messages=new_messages.get(i, []),
                new_statuses=status_counts.get(i, 0),
                calls=delivery.prepared.calls,
                stored_items=delivery.prepared.stored_items,
                rejections=delivery.prepared.rejections,
            )
        )
    return outcomes


def _log(event_id: int, delivery: Delivery) -> None:
    about = {"event_id": event_id}
    if delivery.refusal is not None:
        logger.warning(
            "webhook event %s refused: %s", event_id, delivery.refusal.detail, extra=about
        )
    prepared = delivery.prepared
    if prepared is None:
        return
    for error in prepared.reported_errors:
        logger.warning(
            "webhook event %s reports error %s: %s", event_id, error.code, error.title, extra=about
        )
    for field_, account in prepared.other_changes:
        logger.info(
            "webhook event %s: %r change for account %s kept in the event log",
            event_id,
            field_,
            account,
            extra=about,
        )
    if prepared.rejections:
        first = prepared.rejections[0]
        logger.warning(
            "webhook event %s: %d item(s) rejected, first at %s: %s",
            event_id,
            len(prepared.rejections),
            first.path,
            first.reason,
            extra=about,
        )


async def _upsert_conversations(
    session: AsyncSession, incoming: list[Incoming]
) -> dict[Customer, int]:
    """Find or create the conversation of every sender, in a stable order.

    Customers known by number alone (nearly all) are upserted in sorted batches; those
    with a business-scoped user id one by one, as they may be found by either.
    """
    names: dict[Customer, str | None] = {}
    for n, item in enumerate(incoming):
        if item.customer is not None and not names.get(item.customer):
            names[item.customer] = item.contact_name
        await _let_others_run(n)
    repository = ConversationRepository(session)
    by_number = [c for c in names if c.user_id is None and c.phone_number]
    ids = await repository.upsert_numbers(
        [(c.phone_number_id, c.phone_number, names[c]) for c in by_number if c.phone_number]
    )
    conversations = {
        c: ids[(c.phone_number_id, c.phone_number)] for c in by_number if c.phone_number
    }
    for customer in sorted(names.keys() - set(by_number), key=lambda c: c.sort_key):
        conversations[customer] = await repository.upsert_customer(
            phone_number_id=customer.phone_number_id,
            phone_number=customer.phone_number,
            user_id=customer.user_id,
            contact_name=names[customer],
        )
    return conversations


async def _store_messages(
    session: AsyncSession,
    settings: Settings,
    incoming: list[Incoming],
    now: datetime,
    changes: list[NewChange],
) -> list[NewInboundMessage]:
    """Insert-or-ignore the messages; count, and fetch media of, only the new ones.

    Rows are handled a batch at a time, each batch one statement, so that even a
    delivery of 30,000 messages leaves the event loop free between them.
    """
    if not incoming:
        return []
    conversations = await _upsert_conversations(session, incoming)
    unique: dict[str, Incoming] = {}
    for n, item in enumerate(incoming):
        unique.setdefault(item.row["message_id"], item)
        await _let_others_run(n)
    # Sorted by wamid, so that concurrent transactions take the unique keys in the same
    # order and cannot deadlock.
    unique = dict(sorted(unique.items()))
    messages = MessageRepository(session)
    if messages.counts_as_it_inserts():
        new_rows, counts = await _insert_counted(messages, list(unique.values()), conversations)
    else:
        new_rows = []
        for items in chunks(list(unique.values())):
            rows = [_with_conversation(item, conversations) for item in items]
            new_ids = await messages.insert_ignore(rows)
            new_rows += [row for row in rows if row["message_id"] in new_ids]
        counts = await _count_in_conversations(session, new_rows)
    firsts = await _first_messages(new_rows, counts)
    await JobRepository(session).enqueue_many(
        kinds.MEDIA_DOWNLOAD,
        [
            {"message_id": row["message_id"]}
            for row in new_rows
            if row["media_state"] == MediaState.PENDING
        ],
        max_attempts=settings.job_max_attempts,
        run_after=now,
    )
    # Events in the order the customer wrote (rows are in wamid order, for the locks).
    for n, row in enumerate(sorted(new_rows, key=lambda r: r["timestamp"])):
        changes.append(bodies.message_received(row))
        await _let_others_run(n)
    result: list[NewInboundMessage] = []
    for batch in chunks(new_rows):
        result += [
            NewInboundMessage(
                wamid=row["message_id"],
                conversation_id=row["conversation_id"],
                message_type=row["message_type"],
                text_body=row["text_body"],
                timestamp=row["timestamp"],
                first_in_conversation=row["message_id"] in firsts,
            )
            for row in batch
        ]
        await asyncio.sleep(0)  # let other requests run between batches
    return result


def _with_conversation(item: Incoming, conversations: dict[Customer, int]) -> dict[str, Any]:
    row = item.row
    row["conversation_id"] = conversations[item.customer] if item.customer else None
    return row


async def _insert_counted(
    messages: MessageRepository, items: list[Incoming], conversations: dict[Customer, int]
) -> tuple[list[dict[str, Any]], dict[int, int]]:
    """Insert the messages and count the new ones, a statement per batch; return the new
    rows and each of their conversations' message_count after."""
    rows = [_with_conversation(item, conversations) for item in items]
    counted = await messages.insert_ignore_counted(rows)
    new_rows = [row for row in rows if row["message_id"] in counted]
    counts: dict[int, int] = {}
    for row in new_rows:
        count = counted[row["message_id"]]
        if count is not None and count > counts.get(row["conversation_id"], 0):
            counts[row["conversation_id"]] = count
    return new_rows, counts


async def _count_in_conversations(
    session: AsyncSession, new_rows: list[dict[str, Any]]
) -> dict[int, int]:
    """Add the new messages to their conversations' counters, in atomic UPDATEs; return
    each conversation's message_count after."""
    by_conversation = await _by_conversation(new_rows)
    return await ConversationRepository(session).add_inbound_many(
        [
            InboundIncrement(
                conversation_id=conversation_id,
                count=len(rows),
                last_at=max(row["timestamp"] for row in rows),
            )
            for conversation_id, rows in sorted(by_conversation.items())
        ]
    )


async def _by_conversation(new_rows: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    by_conversation: dict[int, list[dict[str, Any]]] = {}
    for n, row in enumerate(new_rows):
        if row["conversation_id"] is not None:
            by_conversation.setdefault(row["conversation_id"], []).append(row)
        await _let_others_run(n)
    return by_conversation


async def _first_messages(new_rows: list[dict[str, Any]], counts: dict[int, int]) -> set[str]:
    """The wamids that are their conversation's first message.

    When a conversation's count after the update equals the number of its new messages,
    it had none before, and its earliest new message is its first.
    """
    return {
        min(rows, key=lambda row: row["timestamp"])["message_id"]
        for conversation_id, rows in (await _by_conversation(new_rows)).items()
        if counts[conversation_id] == len(rows)
    }


async def _store_statuses(
    session: AsyncSession, rows: list[dict[str, Any]]
) -> tuple[set[tuple[str, str]], dict[str, int | None]]:
    """Insert-or-ignore the statuses and move their messages forward; return the new ones,
    and the conversation of each stored message they name.

    A status whose message is not stored (yet) is only kept: it is applied when the
    message row is written.
    """
    if not rows:
        return set(), {}
    unique: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        unique.setdefault((row["message_id"], row["status"]), row)
    # Sorted, so that concurrent transactions take the unique keys in the same order.
    ordered = [unique[key] for key in sorted(unique)]
    repository = StatusRepository(session)
    new = await repository.insert_ignore(ordered)
    return new, await repository.apply_many(ordered)

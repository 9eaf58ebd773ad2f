"""The inbound path: a verified webhook becomes rows, all in the caller's one transaction.

Meta delivers at least once and concurrently, so everything here is idempotent and
order-independent: messages are insert-or-ignore by wamid, counters move only for the
messages this delivery stored first, statuses are insert-or-ignore by (wamid, status) and
only ever move a message forward. Rows that many deliveries touch (conversations,
messages) are locked in a stable order so that concurrent deliveries cannot deadlock.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.autoreply.rules import is_customer_call
from app.autoreply.service import plan_replies
from app.config import Settings
from app.conversations.repository import ConversationRepository, InboundIncrement
from app.db import utcnow
from app.events.repository import EventRepository
from app.jobs import kinds
from app.jobs.repository import JobRepository
from app.messages.repository import MessageRepository
from app.models import MediaState
from app.statuses.repository import StatusRepository, status_rank
from app.webhook.rows import (
    Customer,
    Incoming,
    clip,
    incoming_messages,
    message_row,
    status_row,
)
from app.webhook.schemas import (
    CallsChange,
    CallsValue,
    MessagesChange,
    MetaError,
    Status,
    Webhook,
)

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


async def ingest(session: AsyncSession, settings: Settings, webhook: Webhook) -> IngestResult:
    """Store a verified webhook: event log, messages, conversations, media jobs, statuses.

    Nothing is committed here: the caller's unit of work commits it all at once, so a
    failure stores nothing and Meta's retry finds a clean slate.
    """
    received_at = utcnow()
    event = await EventRepository(session).add(
        body=webhook.raw, object_=webhook.object_, fields=webhook.fields, received_at=received_at
    )
    incoming: list[Incoming] = []
    statuses: list[Status] = []
    calls: list[CallsValue] = []
    for entry in webhook.entry:
        for change in entry.changes:
            if isinstance(change, MessagesChange):
                value = change.value
                incoming += incoming_messages(value, settings.whatsapp_phone_number_id, received_at)
                statuses += value.statuses
                _log_errors(event.id, value.errors)
            else:
                if isinstance(change, CallsChange):
                    calls.append(change.value)
                logger.info(
                    "webhook event %s: %r change for account %s kept in the event log",
                    event.id,
                    change.field,
                    entry.id,
                )
    messages = await _store_messages(session, settings, incoming, received_at)
    await _open_windows_for_calls(session, settings, calls, received_at)
    new_statuses = await _store_statuses(session, statuses, received_at)
    result = IngestResult(
        event_id=event.id, messages=messages, new_statuses=new_statuses, calls=calls
    )
    await plan_replies(session, settings, result, now=received_at)
    return result


async def _open_windows_for_calls(
    session: AsyncSession, settings: Settings, values: list[CallsValue], received_at: datetime
) -> None:
    """A customer's call opens the 24-hour customer-service window, as a message does.

    Meta: "When a WhatsApp user messages you or calls you, a 24-hour timer ... starts."
    The caller's conversation is found or created and its last_inbound_at moves forward
    (never back); no message is counted.
    """
    callers: dict[Customer, tuple[str | None, datetime]] = {}
    for value in values:
        phone_number_id = (
            (value.metadata.phone_number_id if value.metadata else None)
            or settings.whatsapp_phone_number_id
        )[:64]
        names = {c.wa_id: c.profile.name for c in value.contacts if c.wa_id and c.profile}
        for call in value.calls:
            if not is_customer_call(call.direction) or not (call.from_ or call.from_user_id):
                continue
            customer = Customer(phone_number_id, clip(call.from_, 32), clip(call.from_user_id, 128))
            at = call.timestamp or received_at
            previous = callers.get(customer)
            callers[customer] = (
                names.get(call.from_ or ""),
                max(at, previous[1]) if previous else at,
            )
    repository = ConversationRepository(session)
    for customer in sorted(callers, key=lambda c: c.sort_key):
        name, at = callers[customer]
        conversation_id = await repository.upsert_customer(
            phone_number_id=customer.phone_number_id,
            phone_number=customer.phone_number,
            user_id=customer.user_id,
            contact_name=name,
        )
        await repository.note_inbound_contact(conversation_id, at)


def _log_errors(event_id: int, errors: list[MetaError]) -> None:
    for error in errors:
        logger.warning("webhook event %s reports error %s: %s", event_id, error.code, error.title)


async def _upsert_conversations(
    session: AsyncSession, incoming: list[Incoming]
) -> dict[Customer, int]:
    """Find or create the conversation of every sender, in a stable order.

    Customers known by number alone (nearly all) are upserted in one sorted statement;
    those with a business-scoped user id one by one, as they may be found by either.
    """
    names: dict[Customer, str | None] = {}
    for item in incoming:
        if item.customer is not None and not names.get(item.customer):
            names[item.customer] = item.contact_name
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
    session: AsyncSession, settings: Settings, incoming: list[Incoming], received_at: datetime
) -> list[NewInboundMessage]:
    """Insert-or-ignore the messages; count, and fetch media of, only the new ones."""
    if not incoming:
        return []
    conversations = await _upsert_conversations(session, incoming)
    rows: dict[str, tuple[Incoming, dict[str, Any]]] = {}
    for item in incoming:
        conversation_id = conversations.get(item.customer) if item.customer else None
        row = message_row(item, conversation_id, received_at)
        rows.setdefault(row["message_id"], (item, row))
    new_ids = await MessageRepository(session).insert_ignore([row for _, row in rows.values()])
    new_rows = [row for wamid, (_, row) in rows.items() if wamid in new_ids]
    firsts = await _count_in_conversations(session, new_rows)
    jobs = JobRepository(session)
    for row in new_rows:
        if row["media_state"] == MediaState.PENDING:
            await jobs.enqueue(
                kinds.MEDIA_DOWNLOAD,
                {"message_id": row["message_id"]},
                max_attempts=settings.job_max_attempts,
            )
    return [
        NewInboundMessage(
            wamid=row["message_id"],
            conversation_id=row["conversation_id"],
            message_type=row["message_type"],
            text_body=row["text_body"],
            timestamp=row["timestamp"],
            first_in_conversation=row["message_id"] in firsts,
        )
        for row in new_rows
    ]


async def _count_in_conversations(
    session: AsyncSession, new_rows: list[dict[str, Any]]
) -> set[str]:
    """Add the new messages to their conversations' counters; return each first message.

    One atomic UPDATE for all conversations. When a conversation's count after it equals
    the number added, the conversation had none before, and its earliest new message is
    its first.
    """
    by_conversation: dict[int, list[dict[str, Any]]] = {}
    for row in new_rows:
        if row["conversation_id"] is not None:
            by_conversation.setdefault(row["conversation_id"], []).append(row)
    counts = await ConversationRepository(session).add_inbound_many(
        [
            InboundIncrement(
                conversation_id=conversation_id,
                count=len(rows),
                last_at=max(row["timestamp"] for row in rows),
            )
            for conversation_id, rows in sorted(by_conversation.items())
        ]
    )
    return {
        min(rows, key=lambda row: row["timestamp"])["message_id"]
        for conversation_id, rows in by_conversation.items()
        if counts[conversation_id] == len(rows)
    }


def _apply_order(key: tuple[str, str]) -> tuple[str, int]:
    """Messages in a stable order (no deadlocks), each one's statuses in rank order."""
    rank = status_rank(key[1])
    return (key[0], -1 if rank is None else rank)


async def _store_statuses(
    session: AsyncSession, statuses: list[Status], received_at: datetime
) -> int:
    """Insert-or-ignore the statuses and move their messages forward; return how many were new.

    A status whose message is not stored (yet) is only kept: it is applied when the
    message row is written.
    """
    if not statuses:
        return 0
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for status in statuses:
        row = status_row(status, received_at)
        rows.setdefault((row["message_id"], row["status"]), row)
    repository = StatusRepository(session)
    await repository.lock_messages([wamid for wamid, _status in rows])
    new = await repository.insert_ignore(list(rows.values()))
    for key in sorted(rows, key=_apply_order):
        row = rows[key]
        await repository.apply(row["message_id"], row["status"], row["timestamp"], row["errors"])
    return new

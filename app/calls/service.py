"""What the calls domain does: store the calls of a delivery, list them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from app.autoreply.rules import is_customer_call
from app.calls.repository import CallRepository
from app.calls.rows import call_row
from app.calls.schemas import CallListParams
from app.conversations.repository import ConversationRepository
from app.pagination import Cursor, Page, page_start, paginate
from app.webhook.rows import Customer, CustomerCall

LIST_NAME = "calls"


async def _conversations(
    session: AsyncSession, callers: Sequence[CustomerCall]
) -> dict[Customer, int]:
    """Find or create the conversation of every customer who called or was called, in a
    stable order (concurrent deliveries then lock rows in the same order)."""
    names: dict[Customer, str | None] = {}
    for caller in callers:
        if caller.customer is not None and not names.get(caller.customer):
            names[caller.customer] = caller.contact_name
    repository = ConversationRepository(session)
    return {
        customer: await repository.upsert_customer(
            phone_number_id=customer.phone_number_id,
            phone_number=customer.phone_number,
            user_id=customer.user_id,
            contact_name=names[customer],
        )
        for customer in sorted(names, key=lambda c: c.sort_key)
    }


@dataclass
class StoredCalls:
    """What storing a delivery's call events did."""

    # The conversation of each customer who called or was called.
    conversations: dict[Customer, int] = field(default_factory=dict)
    # The call events that were news: a new call, or one that changed a stored call
    # (not a redelivery), in the order given.
    news: list[CustomerCall] = field(default_factory=list)


async def store_calls(
    session: AsyncSession, callers: Sequence[CustomerCall], received_at: datetime
) -> StoredCalls:
    """Store a delivery's call events: one row per call id, counted once on its
    conversation; a customer's call opens the 24-hour customer-service window.

    Meta: "When a WhatsApp user messages you or calls you, a 24-hour timer ... starts."
    last_inbound_at moves forward only (never back) and no message is counted. Events of
    a call already stored (its terminate after its connect, a redelivery) update it.
    """
    if not callers:
        return StoredCalls()
    conversations = await _conversations(session, callers)
    repository = ConversationRepository(session)
    latest: dict[int, datetime] = {}
    # Each call id's events: (index in `callers`, row), in the order given.
    rows: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for index, caller in enumerate(callers):
        customer, call = caller.customer, caller.call
        conversation_id = conversations[customer] if customer is not None else None
        row = call_row(
            call,
            conversation_id=conversation_id,
            phone_number_id=customer.phone_number_id if customer else "",
            phone_number=customer.phone_number if customer else None,
            user_id=customer.user_id if customer else None,
            received_at=received_at,
        )
        rows.setdefault(row["call_id"], []).append((index, row))
        if conversation_id is not None and is_customer_call(call.direction):
            latest[conversation_id] = max(
                row["timestamp"], latest.get(conversation_id, row["timestamp"])
            )
    for conversation_id in sorted(latest):
        await repository.note_inbound_contact(conversation_id, latest[conversation_id])
    calls = CallRepository(session)
    # Sorted by call id, so that concurrent transactions take the unique keys in order.
    ordered = sorted(rows)
    new = await calls.insert_ignore([rows[call_id][0][1] for call_id in ordered])
    counts: dict[int, int] = {}
    news: set[int] = set()
    for call_id in ordered:
        events = rows[call_id]
        if call_id in new:
            news.add(events[0][0])
            events = events[1:]
        for index, row in events:
            if await calls.merge(row):
                news.add(index)
        conversation_id = rows[call_id][0][1]["conversation_id"]
        if call_id in new and conversation_id is not None:
            counts[conversation_id] = counts.get(conversation_id, 0) + 1
    for conversation_id, count in sorted(counts.items()):
        await repository.add_calls(conversation_id, count)
    return StoredCalls(conversations, [callers[index] for index in sorted(news)])


def _sort_key(call: Row[Any]) -> Cursor:
    return Cursor(at=call.timestamp, id=call.id)


async def list_calls(session: AsyncSession, params: CallListParams) -> Page[Row[Any]]:
    """A page of calls matching `params` (or its cursor's filters), newest first."""
    start = page_start(LIST_NAME, params)
    params = start.params
    rows = await CallRepository(session).list_rows_newest_first(
        limit=params.limit + 1,
        after=start.after,
        conversation_id=params.conversation,
        phone_number_id=params.phone_number_id,
    )
    return paginate(rows, params, LIST_NAME, _sort_key)

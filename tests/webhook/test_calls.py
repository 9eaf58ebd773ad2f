"""Calls: one row per call id, counted apart from messages; a customer's call opens the
customer-service window, as a message does."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from app.models import Call
from app.runtime import Runtime
from tests.support import payloads as p
from tests.webhook import stored

CALLER = "447700900001"
CALLED_AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ENDED_AT = datetime(2026, 3, 2, 9, 2, tzinfo=UTC)


def _calls(*calls: p.Payload) -> p.Payload:
    return p.webhook(p.entry(p.change(p.calls_value(*calls), "calls")))


async def test_call_from_a_new_customer_opens_the_window_without_counting_a_message(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await p.deliver(client, _calls(p.call_event(from_=CALLER, timestamp=CALLED_AT)))
    (conversation,) = await stored.conversations(runtime)
    assert conversation.phone_number == CALLER
    assert conversation.last_inbound_at == CALLED_AT
    assert (conversation.message_count, conversation.unread_count) == (0, 0)
    assert conversation.last_message_at is None


async def test_older_call_does_not_move_the_window_back(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    later = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    await p.deliver(client, p.inbound(p.text_message("hi", from_=CALLER, timestamp=later)))
    await p.deliver(client, _calls(p.call_event(from_=CALLER, timestamp=CALLED_AT)))
    (conversation,) = await stored.conversations(runtime)
    assert conversation.last_inbound_at == later
    assert conversation.message_count == 1


async def test_call_the_business_started_opens_no_window(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    call = {**p.call_event(from_=CALLER, timestamp=CALLED_AT), "direction": "BUSINESS_INITIATED"}
    await p.deliver(client, _calls(call))
    (conversation,) = await stored.conversations(runtime)
    assert conversation.last_inbound_at is None
    assert conversation.call_count == 1


async def test_connect_and_terminate_are_one_answered_call_with_its_duration(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    ring = p.call_event(from_=CALLER, timestamp=CALLED_AT)
    ended = p.call_ended(ring["id"], from_=CALLER, timestamp=ENDED_AT, answered_for=90)
    await p.deliver(client, _calls(ring))
    await p.deliver(client, _calls(ended))
    (call,) = await stored.rows(runtime, Call)
    assert (call.call_id, call.status, call.duration_seconds) == (ring["id"], "completed", 90)
    assert (call.timestamp, call.ended_at) == (CALLED_AT, ENDED_AT)
    (conversation,) = await stored.conversations(runtime)
    assert call.conversation_id == conversation.id
    assert (conversation.call_count, conversation.message_count) == (1, 0)


async def test_terminate_before_connect_keeps_the_call_ended(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    ring = p.call_event(from_=CALLER, timestamp=CALLED_AT)
    await p.deliver(client, _calls(p.call_ended(ring["id"], from_=CALLER, timestamp=ENDED_AT)))
    await p.deliver(client, _calls(ring))
    (call,) = await stored.rows(runtime, Call)
    assert (call.status, call.timestamp, call.duration_seconds) == ("missed", CALLED_AT, None)


async def test_redelivered_call_is_stored_and_counted_once(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    delivery = _calls(p.call_event(from_=CALLER, timestamp=CALLED_AT))
    await p.deliver(client, delivery)
    await p.deliver(client, delivery)
    assert len(await stored.rows(runtime, Call)) == 1
    (conversation,) = await stored.conversations(runtime)
    assert conversation.call_count == 1


async def test_call_without_an_id_is_rejected_and_the_others_stored(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    good = p.call_event(from_=CALLER, timestamp=CALLED_AT)
    answer = await p.deliver(client, _calls({**good, "id": ""}, p.call_event(from_=CALLER)))
    assert answer.json()["rejections"] == [
        {"path": "entry.0.changes.0.value.calls.0.id", "reason": "empty: a call needs its id"}
    ]
    assert len(await stored.rows(runtime, Call)) == 1


async def test_a_call_with_values_its_columns_cannot_hold_is_rejected_and_the_others_stored(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    long_direction = {**p.call_event(from_=CALLER), "direction": "X" * 40}
    huge_duration = {**p.call_event(from_=CALLER, event="terminate"), "duration": 2**40}

    answer = await p.deliver(
        client, _calls(long_direction, huge_duration, p.call_event(from_=CALLER))
    )

    assert answer.status_code == 200
    assert [r["path"] for r in answer.json()["rejections"]] == [
        "entry.0.changes.0.value.calls.1.duration",
        "entry.0.changes.0.value.calls.0.direction",
    ]
    assert len(await stored.rows(runtime, Call)) == 1

"""A customer's call opens the customer-service window, as a message does."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from app.runtime import Runtime
from tests.support import payloads as p
from tests.webhook import stored

CALLER = "447700900001"
CALLED_AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


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
    assert await stored.conversations(runtime) == []

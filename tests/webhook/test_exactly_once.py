"""Meta delivers at least once and concurrently: each message is stored once per wamid
and the conversation counters stay exact."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import httpx

from app.runtime import Runtime
from tests.conftest import PHONE_NUMBER_ID
from tests.support import payloads as p
from tests.webhook import stored

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


async def test_redelivered_message_is_stored_once(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    payload = p.inbound(p.text_message("once"))
    first = await p.deliver(client, payload)
    again = await p.deliver(client, payload)
    assert (first.json()["new_messages"], again.json()["new_messages"]) == (1, 0)
    assert len(await stored.messages(runtime)) == 1
    (conversation,) = await stored.conversations(runtime)
    assert (conversation.message_count, conversation.unread_count) == (1, 1)


async def test_redelivery_is_kept_in_the_event_log_each_time(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    payload = p.inbound(p.text_message("once"))
    await p.deliver(client, payload)
    await p.deliver(client, payload)
    assert [json.loads(event.raw_body) for event in await stored.events(runtime)] == [
        payload,
        payload,
    ]


async def test_same_delivery_sent_10_times_concurrently_leaves_one_row_and_counters_plus_one(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    payload = p.inbound(p.text_message("are you there?"))
    responses = await asyncio.gather(*(p.deliver(client, payload) for _ in range(10)))
    assert [r.status_code for r in responses] == [200] * 10
    assert sum(r.json()["new_messages"] for r in responses) == 1
    assert len(await stored.messages(runtime)) == 1
    (conversation,) = await stored.conversations(runtime)
    assert (conversation.message_count, conversation.unread_count) == (1, 1)
    assert len(await stored.events(runtime)) == 10


async def test_100_concurrent_messages_to_one_conversation_count_exactly_100(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    deliveries = [
        p.inbound(p.text_message(f"message {i}", timestamp=T0 + timedelta(seconds=i)))
        for i in range(100)
    ]
    responses = await asyncio.gather(*(p.deliver(client, d) for d in deliveries))
    assert [r.status_code for r in responses] == [200] * 100
    assert len(await stored.messages(runtime)) == 100
    (conversation,) = await stored.conversations(runtime)
    assert (conversation.message_count, conversation.unread_count) == (100, 100)
    assert conversation.last_message_at == T0 + timedelta(seconds=99)
    assert conversation.last_inbound_at == T0 + timedelta(seconds=99)


async def test_late_older_message_does_not_move_last_message_at_back(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await p.deliver(client, p.inbound(p.text_message("newer", timestamp=T0 + timedelta(hours=1))))
    await p.deliver(client, p.inbound(p.text_message("older, late", timestamp=T0)))
    (conversation,) = await stored.conversations(runtime)
    assert conversation.message_count == 2
    assert conversation.last_message_at == T0 + timedelta(hours=1)
    assert conversation.last_inbound_at == T0 + timedelta(hours=1)


async def test_batch_of_3_messages_from_2_customers_stores_all_3_with_the_right_counters(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    ana, ben = "447700900001", "447700900002"
    batch = [
        p.text_message("ana 1", from_=ana, timestamp=T0),
        p.text_message("ben 1", from_=ben, timestamp=T0 + timedelta(seconds=5)),
        p.image_message(from_=ana, timestamp=T0 + timedelta(seconds=9)),
    ]
    contacts = [p.contact(ana, "Ana"), p.contact(ben, "Ben")]
    response = await p.deliver(client, p.inbound(*batch, contacts=contacts))
    assert response.json()["new_messages"] == 3

    by_number = {c.phone_number: c for c in await stored.conversations(runtime)}
    assert {n: (c.contact_name, c.message_count, c.unread_count) for n, c in by_number.items()} == {
        ana: ("Ana", 2, 2),
        ben: ("Ben", 1, 1),
    }
    assert by_number[ana].last_message_at == T0 + timedelta(seconds=9)
    assert by_number[ben].last_message_at == T0 + timedelta(seconds=5)
    rows = {m.message_id: m for m in await stored.messages(runtime)}
    assert {rows[m["id"]].from_name for m in batch} == {"Ana", "Ben"}
    assert {rows[m["id"]].conversation_id for m in batch[::2]} == {by_number[ana].id}


async def test_two_entries_with_two_changes_each_are_all_stored(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    first, second, third, fourth = (p.text_message(str(i)) for i in range(4))
    payload = p.webhook(
        p.entry(p.change(p.messages_value([first])), p.change(p.messages_value([second]))),
        p.entry(
            p.change(p.messages_value([third], phone_number_id="200000000000001")),
            p.change(p.messages_value([fourth], phone_number_id="200000000000001")),
            account_id="102290129340399",
        ),
    )
    response = await p.deliver(client, payload)
    assert response.json()["new_messages"] == 4
    conversations = {
        c.phone_number_id: c.message_count for c in await stored.conversations(runtime)
    }
    assert conversations == {PHONE_NUMBER_ID: 2, "200000000000001": 2}


async def test_same_message_twice_in_one_delivery_is_stored_once(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    text = p.text_message("echo")
    response = await p.deliver(client, p.inbound(text, text))
    assert response.json()["new_messages"] == 1
    (conversation,) = await stored.conversations(runtime)
    assert conversation.message_count == 1


async def test_delivery_of_1000_messages_is_stored_whole(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    texts = [p.text_message(f"bulk {i}", from_=f"4477009{i % 50:05d}") for i in range(1000)]
    response = await p.deliver(client, p.inbound(*texts))
    assert response.status_code == 200
    assert response.json()["new_messages"] == 1000
    conversations = await stored.conversations(runtime)
    assert len(conversations) == 50
    assert {c.message_count for c in conversations} == {20}


async def test_deliveries_sharing_messages_in_opposite_orders_are_all_stored(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    # Each delivery locks its conversations in one stable order; in payload order, two
    # of these would deadlock on PostgreSQL and one would be answered 503.
    first = p.text_message("a", from_="919800000001")
    second = p.text_message("b", from_="919800000002")
    forward, backward = p.inbound(first, second), p.inbound(second, first)
    answers = await asyncio.gather(
        *(p.deliver(client, forward if n % 2 else backward) for n in range(20))
    )
    assert [a.status_code for a in answers] == [200] * 20
    assert sum(a.json()["new_messages"] for a in answers) == 2
    conversations = await stored.conversations(runtime)
    assert sorted(c.message_count for c in conversations) == [1, 1]


async def test_conversation_learns_a_new_contact_name_and_keeps_it_when_none_comes(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    number = "919800000003"
    await p.deliver(
        client,
        p.inbound(p.text_message("1", from_=number), contacts=[p.contact(number, "Old Name")]),
    )
    await p.deliver(
        client,
        p.inbound(p.text_message("2", from_=number), contacts=[p.contact(number, "New Name")]),
    )
    await p.deliver(client, p.inbound(p.text_message("3", from_=number), contacts=[]))
    (conversation,) = await stored.conversations(runtime)
    assert conversation.contact_name == "New Name"
    assert conversation.message_count == 3


async def test_delivery_from_1000_customers_gives_each_its_own_conversation(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    senders = [f"9198{n:08d}" for n in range(1000)]
    payload = p.inbound(*(p.text_message(f"hi {n}", from_=s) for n, s in enumerate(senders)))
    assert (await p.deliver(client, payload)).json()["new_messages"] == 1000
    conversations = await stored.conversations(runtime)
    assert sorted(c.phone_number for c in conversations) == senders
    assert {(c.message_count, c.unread_count) for c in conversations} == {(1, 1)}

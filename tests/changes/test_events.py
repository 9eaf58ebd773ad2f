"""GET /api/whatsapp/events: every change that matters, in commit order, as JSON pages."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.changes.repository import ChangeRepository, NewChange
from app.changes.types import ChangeType
from app.jobs.repository import JobRepository
from app.jobs.worker import Worker
from app.models import ChangeEvent, Conversation
from app.runtime import Runtime
from tests.support import payloads as p
from tests.support.clock import FixedClock

EVENTS = "/api/whatsapp/events/"


async def _events(api: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    response = await api.get(EVENTS, params=params)
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()["events"]
    return events


async def test_the_events_need_the_api_key(client: httpx.AsyncClient) -> None:
    response = await client.get(EVENTS)
    assert response.status_code == 401


async def test_a_message_its_read_mark_and_a_status_are_events_in_order(
    api: httpx.AsyncClient, runtime: Runtime, clock: FixedClock
) -> None:
    wamid = p.new_wamid()
    await p.deliver(api, p.inbound(p.text_message("Is it in stock?", id=wamid)))
    async with runtime.sessions() as session:
        conversation_id = await session.scalar(select(Conversation.id))
    marked = await api.post("/api/whatsapp/mark-read/", json={"conversation_id": conversation_id})
    assert marked.status_code == 200, marked.text
    ours = p.new_wamid()
    await p.deliver(api, p.status_update(p.status(ours, "delivered")))

    events = await _events(api)

    assert [e["type"] for e in events] == [
        "message.received",
        "conversation.read",
        "message.status",
    ]
    received, read, status = events
    assert received["conversation_id"] == conversation_id
    assert received["data"]["message_id"] == wamid
    assert received["data"]["text_body"] == "Is it in stock?"
    assert read["data"] == {
        "conversation_id": conversation_id,
        "marked": 1,
        "up_to_message_id": wamid,
        "read_at": clock.now.isoformat(),
    }
    # The status came before its message: it has no conversation yet.
    assert (status["conversation_id"], status["data"]["status"]) == (None, "delivered")
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)


async def test_a_redelivered_message_is_one_event(api: httpx.AsyncClient) -> None:
    body = p.inbound(p.text_message("once"))
    await p.deliver(api, body)
    await p.deliver(api, body)

    assert [e["type"] for e in await _events(api)] == ["message.received"]


async def test_a_status_of_a_stored_message_is_an_event_of_its_conversation(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    wamid = p.new_wamid()
    await p.deliver(api, p.inbound(p.text_message("hello", id=wamid)))
    await p.deliver(api, p.status_update(p.status(wamid, "read"), p.status(wamid, "read")))

    statuses = await _events(api, types="message.status")

    assert len(statuses) == 1
    received = (await _events(api, types="message.received"))[0]
    assert statuses[0]["conversation_id"] == received["conversation_id"]


async def test_a_status_delivered_with_its_message_is_an_event_of_its_conversation(
    api: httpx.AsyncClient,
) -> None:
    wamid = p.new_wamid()
    value = p.messages_value([p.text_message("hello", id=wamid)], [p.status(wamid, "read")])
    await p.deliver(api, p.webhook(p.entry(p.change(value))))

    received, status = await _events(api)

    assert status["type"] == "message.status"
    assert status["conversation_id"] == received["conversation_id"] is not None


async def test_a_call_is_an_event(api: httpx.AsyncClient) -> None:
    await p.deliver(api, p.webhook(p.entry(p.change(p.calls_value(p.call_event()), "calls"))))

    (call,) = await _events(api)

    assert call["type"] == "call.received"
    assert call["conversation_id"] is not None


async def test_a_redelivered_call_event_is_not_a_new_event(api: httpx.AsyncClient) -> None:
    started = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    connect = p.call_event(timestamp=started)
    ended = p.call_ended(connect["id"], timestamp=started + timedelta(minutes=3), answered_for=170)
    for call in (connect, connect, ended, ended, connect):
        await p.deliver(api, p.webhook(p.entry(p.change(p.calls_value(call), "calls"))))

    calls = await _events(api, types="call.received")

    assert [c["data"]["event"] for c in calls] == ["connect", "terminate"]


async def test_pages_follow_since_and_limit(api: httpx.AsyncClient) -> None:
    for n in range(5):
        await p.deliver(api, p.inbound(p.text_message(f"message {n}")))

    first = (await api.get(EVENTS, params={"limit": 2})).json()
    rest = (await api.get(EVENTS, params={"since": first["next_since"], "limit": 10})).json()

    texts = [e["data"]["text_body"] for e in first["events"] + rest["events"]]
    assert texts == [f"message {n}" for n in range(5)]
    assert rest["count"] == 3


async def test_events_filter_by_conversation(api: httpx.AsyncClient) -> None:
    await p.deliver(api, p.inbound(p.text_message("from one", **{"from": "15550000001"})))
    await p.deliver(api, p.inbound(p.text_message("from two", **{"from": "15550000002"})))
    first = (await _events(api))[0]

    mine = await _events(api, conversation=first["conversation_id"])

    assert [e["data"]["text_body"] for e in mine] == ["from one"]


async def test_bad_filters_get_a_422_saying_what_is_wrong(api: httpx.AsyncClient) -> None:
    for params in ({"since": "-1"}, {"limit": "0"}, {"types": "message.eaten"}):
        response = await api.get(EVENTS, params=params)
        assert response.status_code == 422, params
        assert "error" in response.json()
    response = await api.get(
        EVENTS, headers={"Accept": "text/event-stream", "Last-Event-ID": "yesterday"}
    )
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_last_event_id"


async def test_a_dead_job_is_an_event(runtime: Runtime, api: httpx.AsyncClient) -> None:
    async with runtime.sessions() as session:
        await JobRepository(session).enqueue("no.such.kind", {"x": 1}, max_attempts=1)
        await session.commit()

    assert await Worker(runtime, handlers={}).run_once()

    (dead,) = await _events(api)
    assert dead["type"] == "job.dead"
    assert dead["data"]["kind"] == "no.such.kind"
    assert "no handler" in dead["data"]["error"]


async def test_a_transaction_adding_events_waits_for_an_earlier_one_to_commit(
    runtime: Runtime, clock: FixedClock
) -> None:
    """Otherwise the later transaction could commit a higher id first, and a reader that
    saw it would skip the earlier one's lower id for ever."""

    async def add(session: AsyncSession, n: int) -> None:
        await ChangeRepository(session).add(
            NewChange(ChangeType.JOB_DEAD, None, {"n": n}), now=clock.now
        )
        await session.commit()

    async with runtime.sessions() as first, runtime.sessions() as second:
        await ChangeRepository(first).add(
            NewChange(ChangeType.JOB_DEAD, None, {"n": 1}), now=clock.now
        )
        later = asyncio.create_task(add(second, 2))
        await asyncio.sleep(0.3)
        assert not later.done()
        await first.commit()
        await later
    async with runtime.sessions() as session:
        rows = (await session.scalars(select(ChangeEvent).order_by(ChangeEvent.id))).all()
    assert [r.data["n"] for r in rows] == [1, 2]


async def test_the_messages_of_one_delivery_are_events_in_the_order_they_were_written(
    api: httpx.AsyncClient, clock: FixedClock
) -> None:
    texts = [f"part {n}" for n in range(6)]
    await p.deliver(
        api,
        p.inbound(
            *(
                p.text_message(t, timestamp=clock.now - timedelta(minutes=10 - n))
                for n, t in enumerate(texts)
            )
        ),
    )

    assert [e["data"]["text_body"] for e in await _events(api)] == texts

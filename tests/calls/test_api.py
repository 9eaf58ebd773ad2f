"""GET /api/whatsapp/calls/ and a conversation's detail list its calls, each once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from tests.support import payloads as p

URL = "/api/whatsapp/calls/"
CALLER = "447700900001"
OTHER = "447700900002"
AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


async def _call(
    client: httpx.AsyncClient, *events: p.Payload, number: str = p.PHONE_NUMBER_ID
) -> None:
    value = p.calls_value(*events, phone_number_id=number)
    assert (
        await p.deliver(client, p.webhook(p.entry(p.change(value, "calls"))))
    ).status_code == 200


async def test_calls_are_listed_newest_first_with_how_they_ended(
    client: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    first = p.call_event(from_=CALLER, timestamp=AT)
    second = p.call_event(from_=OTHER, timestamp=AT + timedelta(hours=1))
    await _call(client, first)
    await _call(
        client,
        p.call_ended(
            first["id"], from_=CALLER, timestamp=AT + timedelta(minutes=1), answered_for=42
        ),
    )
    await _call(client, second)

    body = (await api.get(URL)).json()

    assert body["count"] == 2
    assert [(c["call_id"], c["phone_number"], c["status"]) for c in body["calls"]] == [
        (second["id"], OTHER, "ringing"),
        (first["id"], CALLER, "completed"),
    ]
    assert body["calls"][1]["duration_seconds"] == 42
    assert body["calls"][1]["direction"] == "USER_INITIATED"


async def test_calls_page_with_a_cursor(client: httpx.AsyncClient, api: httpx.AsyncClient) -> None:
    for n in range(3):
        await _call(client, p.call_event(from_=CALLER, timestamp=AT + timedelta(minutes=n)))

    first = (await api.get(URL, params={"limit": 2})).json()
    rest = (await api.get(URL, params={"cursor": first["next_cursor"]})).json()

    assert [c["timestamp"] for c in first["calls"] + rest["calls"]] == [
        "2026-03-02T09:02:00Z",
        "2026-03-02T09:01:00Z",
        "2026-03-02T09:00:00Z",
    ]
    assert rest["next_cursor"] is None


async def test_calls_filter_by_conversation_and_business_number(
    client: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    await _call(client, p.call_event(from_=CALLER, timestamp=AT))
    await _call(client, p.call_event(from_=OTHER, timestamp=AT), number="106540352242933")
    conversations = (await api.get("/api/whatsapp/conversations/")).json()["conversations"]
    caller = next(c for c in conversations if c["phone_number"] == CALLER)

    by_conversation = (await api.get(URL, params={"conversation": caller["id"]})).json()
    by_number = (await api.get(URL, params={"phone_number_id": "106540352242933"})).json()

    assert [c["phone_number"] for c in by_conversation["calls"]] == [CALLER]
    assert [c["phone_number"] for c in by_number["calls"]] == [OTHER]


async def test_a_conversations_detail_lists_its_calls_and_counts_them(
    client: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    call = p.call_event(from_=CALLER, timestamp=AT)
    await _call(client, call)
    await _call(client, p.call_ended(call["id"], from_=CALLER, timestamp=AT))
    (conversation,) = (await api.get("/api/whatsapp/conversations/")).json()["conversations"]

    detail = (await api.get(f"/api/whatsapp/conversations/{conversation['id']}")).json()

    assert (detail["call_count"], detail["message_count"]) == (1, 0)
    assert [(c["call_id"], c["status"]) for c in detail["calls"]] == [(call["id"], "missed")]


async def test_a_bad_filter_is_a_422(api: httpx.AsyncClient) -> None:
    answer = await api.get(URL, params={"conversation": "0"})

    assert answer.status_code == 422

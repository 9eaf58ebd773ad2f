"""Customers who use a username are known by Meta's business-scoped user id: `to` and
`phone` accept it wherever they accept a phone number."""

from __future__ import annotations

from datetime import timedelta

import httpx

from tests.numbers.conftest import SUPPORT
from tests.support import payloads as p
from tests.support.clock import FixedClock
from tests.support.fake_graph import SEND, FakeGraph

USER_ID = "US.13491208655302741918"
SEND_URL = "/api/whatsapp/messages/"
TEMPLATE = {"type": "template", "name": "hello_world", "language": "en_US"}


async def _username_wrote(client: httpx.AsyncClient, clock: FixedClock) -> None:
    message = p.text_message(
        "hi", from_=None, from_user_id=USER_ID, timestamp=clock.now - timedelta(hours=1)
    )
    contact = {"profile": {"name": "Kim"}, "user_id": USER_ID}
    assert (await p.deliver(client, p.inbound(message, contacts=[contact]))).status_code == 200


async def test_to_a_user_id_answers_their_conversation_by_recipient(
    client: httpx.AsyncClient, api: httpx.AsyncClient, clock: FixedClock, fake_graph: FakeGraph
) -> None:
    await _username_wrote(client, clock)

    answer = await api.post(SEND_URL, json={"type": "text", "to": USER_ID, "body": "Hello Kim"})

    assert answer.status_code == 201, answer.text
    (sent,) = fake_graph.sent_messages()
    assert sent["recipient"] == USER_ID and "to" not in sent
    (conversation,) = (await api.get("/api/whatsapp/conversations/")).json()["conversations"]
    assert answer.json()["conversation_id"] == conversation["id"]


async def test_a_template_to_a_new_user_id_starts_their_conversation(
    api: httpx.AsyncClient, clock: FixedClock, fake_graph: FakeGraph
) -> None:
    answer = await api.post(SEND_URL, json={**TEMPLATE, "to": USER_ID})

    assert answer.status_code == 201, answer.text
    assert fake_graph.requests(SEND)[0].json["recipient"] == USER_ID
    (conversation,) = (await api.get("/api/whatsapp/conversations/")).json()["conversations"]
    assert (conversation["user_id"], conversation["phone_number"]) == (USER_ID, None)
    assert conversation["phone_number_id"] == SUPPORT


async def test_the_phone_filter_finds_a_user_ids_messages_both_ways(
    client: httpx.AsyncClient, api: httpx.AsyncClient, clock: FixedClock, fake_graph: FakeGraph
) -> None:
    await _username_wrote(client, clock)
    await api.post(SEND_URL, json={"type": "text", "to": USER_ID, "body": "Hello Kim"})
    await p.deliver(client, p.inbound(p.text_message("someone else", from_="15550000001")))

    listed = (await api.get("/api/whatsapp/messages/", params={"phone": USER_ID})).json()

    assert [(m["direction"], m["text_body"]) for m in listed["messages"]] == [
        ("out", "Hello Kim"),
        ("in", "hi"),
    ]


async def test_neither_a_number_nor_a_user_id_is_refused_saying_both_forms(
    api: httpx.AsyncClient,
) -> None:
    answer = await api.get("/api/whatsapp/messages/", params={"phone": "kim"})
    sent = await api.post(SEND_URL, json={**TEMPLATE, "to": "US-1349"})

    assert (answer.status_code, sent.status_code) == (422, 422)
    assert "US.13491208655302741918" in answer.text
    assert "US.13491208655302741918" in sent.text


async def test_mark_read_by_a_user_id_marks_their_messages(
    client: httpx.AsyncClient, api: httpx.AsyncClient, clock: FixedClock
) -> None:
    await _username_wrote(client, clock)

    answer = await api.post("/api/whatsapp/mark-read/", json={"phone_number": USER_ID})

    assert answer.status_code == 200, answer.text
    assert answer.json()["marked"] == 1

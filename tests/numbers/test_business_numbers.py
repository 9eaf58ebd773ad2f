"""Several business numbers: each conversation keeps the number the customer wrote to,
sends leave from it (or from the number `from` names), and lists filter by number."""

from __future__ import annotations

from datetime import timedelta

import httpx

from app.jobs.worker import Worker
from app.runtime import Runtime
from tests.numbers.conftest import SALES, SALES_TOKEN, SUPPORT
from tests.support import payloads as p
from tests.support.clock import FixedClock
from tests.support.fake_graph import SEND, FakeGraph

CUSTOMER = "919876543210"
SEND_URL = "/api/whatsapp/messages/"
TEMPLATE = {"type": "template", "name": "hello_world", "language": "en_US"}


async def _wrote_to(client: httpx.AsyncClient, clock: FixedClock, number: str) -> None:
    message = p.text_message("hi", from_=CUSTOMER, timestamp=clock.now - timedelta(hours=1))
    answer = await p.deliver(client, p.inbound(message, phone_number_id=number))
    assert answer.status_code == 200


async def _conversation_id(api: httpx.AsyncClient, number: str) -> int:
    listed = await api.get("/api/whatsapp/conversations/", params={"phone_number_id": number})
    (conversation,) = listed.json()["conversations"]
    return int(conversation["id"])


async def test_a_reply_goes_out_from_the_number_the_customer_wrote_to(
    client: httpx.AsyncClient, api: httpx.AsyncClient, clock: FixedClock, fake_graph: FakeGraph
) -> None:
    await _wrote_to(client, clock, SALES)
    conversation_id = await _conversation_id(api, SALES)

    answer = await api.post(
        SEND_URL, json={"type": "text", "conversation_id": conversation_id, "body": "Hello"}
    )

    assert answer.status_code == 201, answer.text
    assert answer.json()["phone_number_id"] == SALES
    (request,) = fake_graph.requests(SEND)
    assert request.phone_number_id == SALES


async def test_a_number_with_its_own_access_token_is_called_with_it(
    client: httpx.AsyncClient, api: httpx.AsyncClient, clock: FixedClock, fake_graph: FakeGraph
) -> None:
    await _wrote_to(client, clock, SALES)

    answer = await api.post(SEND_URL, json={**TEMPLATE, "to": CUSTOMER, "from": "sales"})

    assert answer.status_code == 201, answer.text
    (request,) = fake_graph.requests(SEND)
    assert request.headers["authorization"] == f"Bearer {SALES_TOKEN}"


async def test_a_send_to_a_number_leaves_from_the_number_named_in_from(
    api: httpx.AsyncClient, clock: FixedClock, fake_graph: FakeGraph
) -> None:
    by_label = await api.post(SEND_URL, json={**TEMPLATE, "to": CUSTOMER, "from": "support"})
    by_id = await api.post(SEND_URL, json={**TEMPLATE, "to": "+1 650 555 0199", "from": SUPPORT})

    assert (by_label.status_code, by_id.status_code) == (201, 201)
    assert [r.phone_number_id for r in fake_graph.requests(SEND)] == [SUPPORT, SUPPORT]
    assert by_label.json()["phone_number_id"] == SUPPORT


async def test_a_send_by_to_without_from_finds_the_conversation_of_the_default_number(
    client: httpx.AsyncClient, api: httpx.AsyncClient, clock: FixedClock, fake_graph: FakeGraph
) -> None:
    await _wrote_to(client, clock, SUPPORT)

    answer = await api.post(SEND_URL, json={"type": "text", "to": CUSTOMER, "body": "Hello"})

    assert answer.status_code == 201, answer.text
    assert answer.json()["conversation_id"] == await _conversation_id(api, SUPPORT)


async def test_an_unknown_from_is_refused_naming_the_configured_numbers(
    api: httpx.AsyncClient, clock: FixedClock, fake_graph: FakeGraph
) -> None:
    answer = await api.post(SEND_URL, json={**TEMPLATE, "to": CUSTOMER, "from": "billing"})

    assert answer.status_code == 422
    assert answer.json()["error"] == "unknown_business_number"
    assert f"{SUPPORT} (support), {SALES} (sales)" in answer.json()["detail"]
    assert fake_graph.requests(SEND) == []


async def test_a_reply_from_another_number_than_the_conversations_is_refused(
    client: httpx.AsyncClient, api: httpx.AsyncClient, clock: FixedClock, fake_graph: FakeGraph
) -> None:
    await _wrote_to(client, clock, SALES)
    conversation_id = await _conversation_id(api, SALES)

    answer = await api.post(
        SEND_URL,
        json={"type": "text", "conversation_id": conversation_id, "body": "Hi", "from": "support"},
    )

    assert answer.status_code == 422
    assert "sales · +1 555 000 2222" in answer.json()["detail"]
    assert fake_graph.requests(SEND) == []


async def test_lists_filter_by_business_number_and_show_its_number_and_label(
    client: httpx.AsyncClient, api: httpx.AsyncClient, clock: FixedClock
) -> None:
    await _wrote_to(client, clock, SUPPORT)
    await _wrote_to(client, clock, SALES)

    conversations = await api.get("/api/whatsapp/conversations/", params={"phone_number_id": SALES})
    messages = await api.get("/api/whatsapp/messages/", params={"phone_number_id": SALES})

    (conversation,) = conversations.json()["conversations"]
    assert conversation["phone_number_id"] == SALES
    assert (conversation["business_number"], conversation["business_label"]) == (
        "+1 555 000 2222",
        "sales",
    )
    assert [m["phone_number_id"] for m in messages.json()["messages"]] == [SALES]
    detail = (await api.get(f"/api/whatsapp/conversations/{conversation['id']}")).json()
    assert detail["business_label"] == "sales"


async def test_a_page_of_conversations_of_several_numbers_names_each_ones_own(
    client: httpx.AsyncClient, api: httpx.AsyncClient, clock: FixedClock
) -> None:
    await _wrote_to(client, clock, SUPPORT)
    await _wrote_to(client, clock, SALES)

    listed = (await api.get("/api/whatsapp/conversations/")).json()["conversations"]

    labels = {c["phone_number_id"]: c["business_label"] for c in listed}
    assert labels == {SUPPORT: "support", SALES: "sales"}


async def test_a_queued_send_leaves_from_the_number_named_in_from(
    api: httpx.AsyncClient, runtime: Runtime, clock: FixedClock, fake_graph: FakeGraph
) -> None:
    answer = await api.post(
        SEND_URL, json={**TEMPLATE, "to": CUSTOMER, "from": "sales", "queued": True}
    )
    assert answer.status_code == 202, answer.text

    assert await Worker(runtime, concurrency=1).run_once()

    (request,) = fake_graph.requests(SEND)
    assert request.phone_number_id == SALES


PNG = b"\x89PNG\r\n\x1a\n" + b"pixels" * 100
UPLOAD_URL = "/api/whatsapp/media/"


async def test_an_upload_is_made_by_the_number_named_in_from(
    api: httpx.AsyncClient, fake_graph: FakeGraph
) -> None:
    # Meta lets only the number that uploaded a file send it.
    answer = await api.post(
        UPLOAD_URL, data={"from": "sales"}, files={"file": ("logo.png", PNG, "image/png")}
    )

    assert answer.status_code == 201, answer.text
    (upload,) = fake_graph.uploads()
    assert upload.phone_number_id == SALES
    assert upload.headers["authorization"] == f"Bearer {SALES_TOKEN}"


async def test_an_upload_without_from_is_made_by_the_default_number(
    api: httpx.AsyncClient, fake_graph: FakeGraph
) -> None:
    answer = await api.post(UPLOAD_URL, files={"file": ("logo.png", PNG, "image/png")})

    assert answer.status_code == 201, answer.text
    assert [u.phone_number_id for u in fake_graph.uploads()] == [SUPPORT]


async def test_an_upload_for_an_unknown_number_is_refused_before_meta(
    api: httpx.AsyncClient, fake_graph: FakeGraph
) -> None:
    answer = await api.post(
        UPLOAD_URL, data={"from": "billing"}, files={"file": ("logo.png", PNG, "image/png")}
    )

    assert answer.status_code == 422
    assert answer.json()["error"] == "unknown_business_number"
    assert fake_graph.uploads() == []

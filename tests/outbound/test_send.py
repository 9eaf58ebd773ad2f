"""POST /api/whatsapp/messages/: Meta is called at once and the sent message is stored."""

from __future__ import annotations

from datetime import timedelta

import httpx
import respx

from app.db import utcnow
from app.runtime import Runtime
from app.statuses.repository import StatusRepository
from tests.conftest import ACCESS_TOKEN, PHONE_NUMBER_ID
from tests.outbound.conftest import (
    CUSTOMER,
    MESSAGES_URL,
    SEND_URL,
    accepted,
    conversation,
    customer_wrote,
    hours,
    outbound_messages,
    sent_payload,
)


async def test_text_is_sent_to_meta_and_answered_as_the_stored_outbound_message(
    api: httpx.AsyncClient, runtime: Runtime, meta: respx.Route
) -> None:
    conversation_id = await customer_wrote(runtime, hours(1))

    response = await api.post(
        SEND_URL, json={"type": "text", "conversation_id": conversation_id, "body": "Hello"}
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["direction"] == "out"
    assert body["status"] == "accepted"
    assert body["message_id"].startswith("wamid.")
    assert body["conversation_id"] == conversation_id
    assert body["message_type"] == "text"
    assert body["text_body"] == "Hello"
    assert body["to_number"] == CUSTOMER
    assert meta.call_count == 1
    request = meta.calls.last.request
    assert request.headers["authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert sent_payload(meta) == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": CUSTOMER,
        "type": "text",
        "text": {"body": "Hello", "preview_url": False},
    }
    [stored] = await outbound_messages(runtime)
    assert stored.message_id == body["message_id"]
    assert stored.phone_number_id == PHONE_NUMBER_ID


async def test_sent_message_counts_in_message_count_but_not_in_unread_count(
    api: httpx.AsyncClient, runtime: Runtime, meta: respx.Route
) -> None:
    conversation_id = await customer_wrote(runtime, hours(1))
    before = await conversation(runtime, conversation_id)

    response = await api.post(
        SEND_URL, json={"type": "text", "conversation_id": conversation_id, "body": "Hello"}
    )

    assert response.status_code == 201
    after = await conversation(runtime, conversation_id)
    assert after.message_count == before.message_count + 1
    assert after.unread_count == before.unread_count
    assert after.last_message_at is not None
    assert before.last_message_at is not None
    assert after.last_message_at > before.last_message_at
    assert after.last_inbound_at == before.last_inbound_at


async def test_customer_number_in_any_format_finds_their_conversation(
    api: httpx.AsyncClient, runtime: Runtime, meta: respx.Route
) -> None:
    conversation_id = await customer_wrote(runtime, hours(1))

    response = await api.post(
        SEND_URL, json={"type": "text", "to": "+91 98765-43210", "body": "Hello"}
    )

    assert response.status_code == 201, response.text
    assert response.json()["conversation_id"] == conversation_id
    assert sent_payload(meta)["to"] == CUSTOMER


async def test_unknown_conversation_is_404_and_meta_is_not_called(
    api: httpx.AsyncClient, meta: respx.Route
) -> None:
    response = await api.post(
        SEND_URL, json={"type": "text", "conversation_id": 999, "body": "Hello"}
    )

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
    assert meta.call_count == 0


async def test_send_needs_the_api_key(client: httpx.AsyncClient, meta: respx.Route) -> None:
    response = await client.post(SEND_URL, json={"type": "text", "to": CUSTOMER, "body": "Hi"})

    assert response.status_code == 401
    assert meta.call_count == 0


async def test_status_that_arrived_before_metas_answer_is_applied_to_the_stored_message(
    api: httpx.AsyncClient, runtime: Runtime, graph: respx.MockRouter
) -> None:
    conversation_id = await customer_wrote(runtime, hours(1))
    wamid = "wamid.HBgMOTE5ODc2NTQzMjEwFQIAERgSRACE00001"
    async with runtime.sessions.begin() as session:
        await StatusRepository(session).insert_ignore(
            [{"message_id": wamid, "status": "delivered", "timestamp": utcnow()}]
        )
    graph.post(MESSAGES_URL).mock(return_value=accepted({"to": CUSTOMER}, wamid))

    response = await api.post(
        SEND_URL, json={"type": "text", "conversation_id": conversation_id, "body": "Hello"}
    )

    assert response.status_code == 201
    assert response.json()["message_id"] == wamid
    assert response.json()["status"] == "delivered"


async def test_reply_to_is_sent_as_context_and_kept_on_the_message(
    api: httpx.AsyncClient, runtime: Runtime, meta: respx.Route
) -> None:
    conversation_id = await customer_wrote(runtime, hours(1))
    quoted = "wamid.HBgMOTE5ODc2NTQzMjEwFQIAEhgUQUOTED"

    response = await api.post(
        SEND_URL,
        json={
            "type": "text",
            "conversation_id": conversation_id,
            "body": "Yes, in blue",
            "reply_to": quoted,
        },
    )

    assert response.status_code == 201
    assert sent_payload(meta)["context"] == {"message_id": quoted}
    assert response.json()["context_message_id"] == quoted


async def test_template_to_a_new_number_starts_a_conversation(
    api: httpx.AsyncClient, runtime: Runtime, meta: respx.Route
) -> None:
    response = await api.post(
        SEND_URL,
        json={
            "type": "template",
            "to": "+1 650 555 0199",
            "name": "hello_world",
            "language": "en_US",
        },
    )

    assert response.status_code == 201, response.text
    new_conversation = await conversation(runtime, response.json()["conversation_id"])
    assert new_conversation.phone_number == "16505550199"
    assert new_conversation.phone_number_id == PHONE_NUMBER_ID
    assert new_conversation.message_count == 1
    assert new_conversation.unread_count == 0
    assert new_conversation.last_inbound_at is None


async def test_customer_known_only_by_user_id_is_sent_to_as_recipient(
    api: httpx.AsyncClient, runtime: Runtime, meta: respx.Route
) -> None:
    conversation_id = await customer_wrote(
        runtime, timedelta(minutes=5), phone_number=None, user_id="US.13491208655302741918"
    )

    response = await api.post(
        SEND_URL, json={"type": "text", "conversation_id": conversation_id, "body": "Hello"}
    )

    assert response.status_code == 201, response.text
    payload = sent_payload(meta)
    assert payload["recipient"] == "US.13491208655302741918"
    assert "to" not in payload
    assert response.json()["user_id"] == "US.13491208655302741918"

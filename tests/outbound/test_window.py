"""The 24-hour rule: free-form messages only within 24 hours of the customer's last message."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
import respx

from app.runtime import Runtime
from tests.outbound.conftest import (
    CUSTOMER,
    SEND_URL,
    conversation,
    customer_wrote,
    hours,
    message_rows,
)

# The app's clock is fixed, so "just inside" is exactly a minute inside, at any hour.
pytestmark = pytest.mark.usefixtures("clock")

JUST_INSIDE = hours(24) - timedelta(minutes=1)
JUST_OUTSIDE = hours(24) + timedelta(minutes=1)


async def test_free_form_message_just_inside_the_window_is_sent(
    api: httpx.AsyncClient, runtime: Runtime, meta: respx.Route
) -> None:
    conversation_id = await customer_wrote(runtime, JUST_INSIDE)

    response = await api.post(
        SEND_URL, json={"type": "text", "conversation_id": conversation_id, "body": "Hello"}
    )

    assert response.status_code == 201, response.text
    assert meta.call_count == 1


async def test_free_form_message_just_outside_the_window_is_refused_before_calling_meta(
    api: httpx.AsyncClient, runtime: Runtime, meta: respx.Route
) -> None:
    conversation_id = await customer_wrote(runtime, JUST_OUTSIDE)
    before = await conversation(runtime, conversation_id)
    stored_before = await message_rows(runtime)

    response = await api.post(
        SEND_URL, json={"type": "text", "conversation_id": conversation_id, "body": "Hello"}
    )

    assert response.status_code == 409
    body = response.json()
    assert body["error"] == "outside_customer_service_window"
    assert "template" in body["detail"]
    assert body["last_inbound_at"] is not None
    assert meta.call_count == 0
    assert await message_rows(runtime) == stored_before
    assert (await conversation(runtime, conversation_id)).message_count == before.message_count


async def test_customer_who_never_wrote_can_only_get_a_template(
    api: httpx.AsyncClient, meta: respx.Route
) -> None:
    response = await api.post(SEND_URL, json={"type": "text", "to": CUSTOMER, "body": "Hello"})

    assert response.status_code == 409
    assert response.json()["error"] == "outside_customer_service_window"
    assert response.json()["last_inbound_at"] is None
    assert meta.call_count == 0


@pytest.mark.parametrize(
    "message",
    [
        {"type": "image", "link": "https://example.com/a.png"},
        {"type": "reaction", "message_id": "wamid.X", "emoji": "\U0001f44d"},
        {
            "type": "interactive",
            "interactive": {
                "type": "button",
                "body": "Ok?",
                "buttons": [{"id": "y", "title": "Y"}],
            },
        },
    ],
    ids=["image", "reaction", "interactive"],
)
async def test_every_non_template_type_is_held_to_the_window(
    api: httpx.AsyncClient, runtime: Runtime, meta: respx.Route, message: dict[str, object]
) -> None:
    conversation_id = await customer_wrote(runtime, JUST_OUTSIDE)

    response = await api.post(SEND_URL, json={**message, "conversation_id": conversation_id})

    assert response.status_code == 409
    assert meta.call_count == 0


async def test_template_is_sent_outside_the_window(
    api: httpx.AsyncClient, runtime: Runtime, meta: respx.Route
) -> None:
    conversation_id = await customer_wrote(runtime, hours(72))

    response = await api.post(
        SEND_URL,
        json={
            "type": "template",
            "conversation_id": conversation_id,
            "name": "order_update",
            "language": "en_US",
        },
    )

    assert response.status_code == 201, response.text
    assert meta.call_count == 1

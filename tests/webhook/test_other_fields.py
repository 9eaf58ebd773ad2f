"""Changes of other webhook fields are kept in the event log, logged, and answered 200."""

from __future__ import annotations

import json
import logging

import httpx
import pytest

from app.runtime import Runtime
from tests.support import payloads as p
from tests.webhook import stored


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("account_update", p.account_update_value()),
        ("message_template_status_update", p.template_status_value()),
        ("calls", p.calls_value()),
        ("brand_new_field", {"anything": ["at", "all"]}),
        ("security", None),
    ],
)
async def test_other_field_is_logged_kept_and_answered_200(
    client: httpx.AsyncClient,
    runtime: Runtime,
    caplog: pytest.LogCaptureFixture,
    field: str,
    value: object,
) -> None:
    caplog.set_level(logging.INFO, logger="app.webhook")
    payload = p.webhook(p.entry(p.change(value, field)))
    response = await p.deliver(client, payload)
    assert response.status_code == 200
    (event,) = await stored.events(runtime)
    assert (event.object, event.fields, json.loads(event.raw_body)) == (
        "whatsapp_business_account",
        field,
        payload,
    )
    assert any(field in record.getMessage() for record in caplog.records)
    assert await stored.messages(runtime) == []


async def test_other_fields_beside_messages_do_not_disturb_them(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    text = p.text_message("hello")
    payload = p.webhook(
        p.entry(
            p.change(p.template_status_value(), "message_template_status_update"),
            p.change(p.messages_value([text])),
        )
    )
    response = await p.deliver(client, payload)
    assert response.json()["new_messages"] == 1
    (event,) = await stored.events(runtime)
    assert event.fields == "message_template_status_update,messages"


async def test_change_without_a_field_name_is_read_as_messages(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    # The shape of the seed's example delivery.
    text = p.text_message("Hi, I need help with my order")
    payload = p.webhook(p.entry({"value": p.messages_value([text])}))
    response = await p.deliver(client, payload)
    assert response.json()["new_messages"] == 1
    assert (await stored.message(runtime, text["id"])).text_body == "Hi, I need help with my order"

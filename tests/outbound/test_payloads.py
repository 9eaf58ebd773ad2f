"""Every message type reaches Meta in the Cloud API's shape and is stored with its content."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx

from app.runtime import Runtime
from tests.outbound.conftest import CUSTOMER, SEND_URL, customer_wrote, hours, sent_payload

QUOTED = "wamid.HBgMOTE5ODc2NTQzMjEwFQIAEhgUQUOTED"

# name: (request fields, what Meta gets under the type's key, stored columns)
CASES: dict[str, tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = {
    "text with link preview": (
        {"type": "text", "body": "See https://example.com", "preview_url": True},
        {"body": "See https://example.com", "preview_url": True},
        {"text_body": "See https://example.com"},
    ),
    "template with components": (
        {
            "type": "template",
            "name": "order_update",
            "language": "en_US",
            "components": [{"type": "body", "parameters": [{"type": "text", "text": "1182"}]}],
        },
        {
            "name": "order_update",
            "language": {"code": "en_US"},
            "components": [{"type": "body", "parameters": [{"type": "text", "text": "1182"}]}],
        },
        {"text_body": None},
    ),
    "image by media id with caption": (
        {"type": "image", "id": "1013859600285441", "caption": "Your invoice"},
        {"id": "1013859600285441", "caption": "Your invoice"},
        {"media_id": "1013859600285441", "caption": "Your invoice"},
    ),
    "image by link": (
        {"type": "image", "link": "https://example.com/shoe.png"},
        {"link": "https://example.com/shoe.png"},
        {"media_id": None, "caption": None},
    ),
    "video": (
        {"type": "video", "id": "1166846181421424", "caption": "How to fit it"},
        {"id": "1166846181421424", "caption": "How to fit it"},
        {"media_id": "1166846181421424", "caption": "How to fit it"},
    ),
    "audio": (
        {"type": "audio", "link": "https://example.com/note.ogg"},
        {"link": "https://example.com/note.ogg"},
        {"media_id": None},
    ),
    "document with file name": (
        {"type": "document", "id": "1376223850470843", "filename": "invoice.pdf", "caption": "Q1"},
        {"id": "1376223850470843", "caption": "Q1", "filename": "invoice.pdf"},
        {"media_id": "1376223850470843", "filename": "invoice.pdf", "caption": "Q1"},
    ),
    "sticker": (
        {"type": "sticker", "id": "798882015472548"},
        {"id": "798882015472548"},
        {"media_id": "798882015472548"},
    ),
    "location": (
        {
            "type": "location",
            "latitude": 37.44216251868683,
            "longitude": -122.16153582049394,
            "name": "Philz Coffee",
            "address": "101 Forest Ave, Palo Alto, CA 94301",
        },
        {
            "latitude": 37.44216251868683,
            "longitude": -122.16153582049394,
            "name": "Philz Coffee",
            "address": "101 Forest Ave, Palo Alto, CA 94301",
        },
        {
            "latitude": 37.44216251868683,
            "longitude": -122.16153582049394,
            "location_name": "Philz Coffee",
            "location_address": "101 Forest Ave, Palo Alto, CA 94301",
        },
    ),
    "reply buttons": (
        {
            "type": "interactive",
            "interactive": {
                "type": "button",
                "header": "Delivery",
                "body": "Was your order delivered?",
                "footer": "Tap one",
                "buttons": [{"id": "yes", "title": "Yes"}, {"id": "no", "title": "Not yet"}],
            },
        },
        {
            "type": "button",
            "header": {"type": "text", "text": "Delivery"},
            "body": {"text": "Was your order delivered?"},
            "footer": {"text": "Tap one"},
            "action": {
                "buttons": [
                    {"type": "reply", "reply": {"id": "yes", "title": "Yes"}},
                    {"type": "reply", "reply": {"id": "no", "title": "Not yet"}},
                ]
            },
        },
        {"text_body": "Was your order delivered?"},
    ),
    "list": (
        {
            "type": "interactive",
            "interactive": {
                "type": "list",
                "body": "When should we call?",
                "button": "Pick a time",
                "sections": [
                    {
                        "title": "Today",
                        "rows": [{"id": "t-pm", "title": "Afternoon", "description": "2-5 pm"}],
                    },
                    {"title": "Tomorrow", "rows": [{"id": "m-am", "title": "Morning"}]},
                ],
            },
        },
        {
            "type": "list",
            "body": {"text": "When should we call?"},
            "action": {
                "button": "Pick a time",
                "sections": [
                    {
                        "title": "Today",
                        "rows": [{"id": "t-pm", "title": "Afternoon", "description": "2-5 pm"}],
                    },
                    {"title": "Tomorrow", "rows": [{"id": "m-am", "title": "Morning"}]},
                ],
            },
        },
        {"text_body": "When should we call?"},
    ),
    "reaction": (
        {"type": "reaction", "message_id": QUOTED, "emoji": "\U0001f44d"},
        {"message_id": QUOTED, "emoji": "\U0001f44d"},
        {"text_body": "\U0001f44d", "context_message_id": QUOTED},
    ),
}


@pytest.mark.parametrize(("fields", "content", "columns"), CASES.values(), ids=CASES.keys())
async def test_message_type_is_sent_in_metas_shape_and_stored(
    api: httpx.AsyncClient,
    runtime: Runtime,
    meta: respx.Route,
    fields: dict[str, Any],
    content: dict[str, Any],
    columns: dict[str, Any],
) -> None:
    conversation_id = await customer_wrote(runtime, hours(1))

    response = await api.post(SEND_URL, json={**fields, "conversation_id": conversation_id})

    assert response.status_code == 201, response.text
    type_ = fields["type"]
    payload = sent_payload(meta)
    assert payload == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": CUSTOMER,
        "type": type_,
        type_: content,
    }
    stored = response.json()
    assert stored["message_type"] == type_
    assert {name: stored[name] for name in columns} == columns
    assert stored["raw"] == {
        key: value for key, value in payload.items() if key != "messaging_product"
    }

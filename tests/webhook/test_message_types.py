"""Each message type Meta documents is stored with the columns of the seed's table, and
every message keeps its raw JSON; unknown types and fields are accepted, never refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from app.runtime import Runtime
from tests.conftest import PHONE_NUMBER_ID
from tests.support import payloads as p
from tests.webhook import stored

SENT_AT = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)
QUOTED = "wamid.HBgLQUOTEDMESSAGE"

CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (
        "text",
        p.text_message("Hi, I need help with my order"),
        {"text_body": "Hi, I need help with my order"},
    ),
    (
        "image",
        p.image_message("1479537139650973", caption="The broken part"),
        {
            "media_id": "1479537139650973",
            "caption": "The broken part",
            "mime_type": "image/jpeg",
            "media_state": "pending",
            "text_body": None,
        },
    ),
    (
        "video",
        p.video_message("2191919014544219", caption="Unboxing"),
        {
            "media_id": "2191919014544219",
            "caption": "Unboxing",
            "mime_type": "video/mp4",
            "media_state": "pending",
        },
    ),
    (
        "audio (voice)",
        p.audio_message("1003383421387256", voice=True),
        {
            "media_id": "1003383421387256",
            "mime_type": "audio/ogg; codecs=opus",
            "media_state": "pending",
            "caption": None,
        },
    ),
    (
        "document",
        p.document_message("1155706052567413", filename="invoice-42.pdf", caption="My invoice"),
        {
            "media_id": "1155706052567413",
            "filename": "invoice-42.pdf",
            "caption": "My invoice",
            "mime_type": "application/pdf",
            "media_state": "pending",
        },
    ),
    (
        "sticker",
        p.sticker_message("1871496633670457"),
        {"media_id": "1871496633670457", "mime_type": "image/webp", "media_state": "pending"},
    ),
    (
        "location",
        p.location_message(37.4847483, -122.1473105, name="Philz Coffee", address="101 Forest Ave"),
        {
            "latitude": 37.4847483,
            "longitude": -122.1473105,
            "location_name": "Philz Coffee",
            "location_address": "101 Forest Ave",
            "text_body": None,
        },
    ),
    (
        "contacts",
        p.contacts_message(p.contact_card("Barbara J. Johnson"), p.contact_card("Ali Khan")),
        {"text_body": "Barbara J. Johnson, Ali Khan"},
    ),
    (
        "interactive button_reply",
        p.button_reply_message("Cancel order", context=p.reply_context(QUOTED)),
        {"text_body": "Cancel order", "context_message_id": QUOTED},
    ),
    (
        "interactive list_reply",
        p.list_reply_message("Priority Mail Express", context=p.reply_context(QUOTED)),
        {"text_body": "Priority Mail Express", "context_message_id": QUOTED},
    ),
    ("interactive nfm_reply", p.flow_reply_message(body="Sent"), {"text_body": "Sent"}),
    (
        "button",
        p.button_message("Unsubscribe", context=p.reply_context(QUOTED)),
        {"text_body": "Unsubscribe", "context_message_id": QUOTED},
    ),
    (
        "reaction",
        p.reaction_message(QUOTED, "\u2764\ufe0f"),
        {"text_body": "\u2764\ufe0f", "context_message_id": QUOTED},
    ),
    ("order", p.order_message("Deliver before noon"), {"text_body": "Deliver before noon"}),
    (
        "system",
        p.system_message("16505550000"),
        {
            "text_body": f"User {p.CUSTOMER_NAME} changed from {p.CUSTOMER_NUMBER} to 16505550000",
            "from_name": None,
        },
    ),
    (
        "text reply",
        p.text_message("Yes, that one", context=p.reply_context(QUOTED)),
        {"text_body": "Yes, that one", "context_message_id": QUOTED},
    ),
    (
        "text from an ad",
        p.text_message("About your ad", referral=p.ad_referral()),
        {"text_body": "About your ad"},
    ),
    (
        "unsupported",
        p.unsupported_message(),
        {"text_body": None, "errors": p.unsupported_message()["errors"]},
    ),
]


@pytest.mark.parametrize(("payload", "columns"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_message_type_is_stored_in_its_columns(
    client: httpx.AsyncClient, runtime: Runtime, payload: dict[str, Any], columns: dict[str, Any]
) -> None:
    payload["timestamp"] = p.unix(SENT_AT)
    response = await p.deliver(client, p.inbound(payload))
    assert response.status_code == 200

    row = await stored.message(runtime, payload["id"])
    expected = {
        "message_type": payload["type"],
        "direction": "in",
        "status": "received",
        "from_number": p.CUSTOMER_NUMBER,
        "from_name": p.CUSTOMER_NAME,
        "to_number": p.BUSINESS_NUMBER,
        "phone_number_id": PHONE_NUMBER_ID,
        "timestamp": SENT_AT,
        "raw": payload,
        **columns,
    }
    assert {name: getattr(row, name) for name in expected} == expected
    assert row.conversation_id is not None


async def test_unknown_type_is_stored_with_its_type_and_raw_json(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    hologram = p.message("hologram", {"frames": 24, "caption": "from the future"})
    response = await p.deliver(client, p.inbound(hologram))
    assert response.status_code == 200
    row = await stored.message(runtime, hologram["id"])
    assert row.message_type == "hologram"
    assert row.raw == hologram
    assert row.text_body is None
    (conversation,) = await stored.conversations(runtime)
    assert conversation.message_count == 1


async def test_unknown_fields_everywhere_are_accepted_and_kept(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    text = p.text_message("hello", brand_new_field={"nested": [1, 2]})
    text["text"]["formatting"] = "markdown"
    payload = p.webhook(
        p.entry(p.change(p.messages_value([text], novel_value_field=True)) | {"extra": 1})
        | {"time": 1749416383}
    ) | {"api_version": "v99.0"}
    response = await p.deliver(client, payload)
    assert response.status_code == 200
    row = await stored.message(runtime, text["id"])
    assert row.text_body == "hello"
    assert row.raw == text
    (event,) = await stored.events(runtime)
    assert json.loads(event.raw_body) == payload


async def test_numbers_where_meta_usually_sends_strings_are_accepted(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    text = p.text_message("hello", timestamp=SENT_AT)
    text["timestamp"] = int(text["timestamp"])
    payload = p.inbound(text, phone_number_id=int(PHONE_NUMBER_ID))
    response = await p.deliver(client, payload)
    assert response.status_code == 200
    row = await stored.message(runtime, text["id"])
    assert (row.timestamp, row.phone_number_id) == (SENT_AT, PHONE_NUMBER_ID)


async def test_nul_characters_in_text_are_stored_as_the_replacement_character(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    text = p.text_message("before\x00after")
    payload = p.inbound(text, contacts=[p.contact(name="Nul\x00Name")])
    response = await p.deliver(client, payload)
    assert response.status_code == 200
    row = await stored.message(runtime, text["id"])
    assert row.text_body == "before\ufffdafter"
    assert row.from_name == "Nul\ufffdName"
    (conversation,) = await stored.conversations(runtime)
    assert conversation.contact_name == "Nul\ufffdName"


async def test_nul_characters_are_kept_exactly_in_the_raw_json(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    text = p.text_message("before\x00after")
    response = await p.deliver(client, p.inbound(text))
    assert response.status_code == 200
    assert (await stored.message(runtime, text["id"])).raw == text


async def test_forwarded_message_keeps_its_context_in_raw(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    text = p.text_message("pass it on", context=p.forwarded_context(frequently=True))
    await p.deliver(client, p.inbound(text))
    row = await stored.message(runtime, text["id"])
    assert row.context_message_id is None
    assert row.raw == text


async def test_customer_with_a_username_and_no_number_is_stored_by_user_id(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    text = p.text_message("hi from @maria", from_=None, from_user_id="US.13491208655302741918")
    contact = p.contact(None, "Maria", user_id="US.13491208655302741918", username="@maria")
    response = await p.deliver(client, p.inbound(text, contacts=[contact]))
    assert response.status_code == 200
    row = await stored.message(runtime, text["id"])
    assert (row.from_number, row.user_id, row.from_name) == (
        None,
        "US.13491208655302741918",
        "Maria",
    )
    (conversation,) = await stored.conversations(runtime)
    assert (conversation.phone_number, conversation.user_id) == (None, "US.13491208655302741918")
    assert conversation.id == row.conversation_id


async def test_customer_number_and_user_id_are_both_kept(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    text = p.text_message("hello", from_user_id="US.1502576394655843")
    contact = p.contact(p.CUSTOMER_NUMBER, "Sheena", user_id="US.1502576394655843")
    await p.deliver(client, p.inbound(text, contacts=[contact]))
    (conversation,) = await stored.conversations(runtime)
    assert (conversation.phone_number, conversation.user_id) == (
        p.CUSTOMER_NUMBER,
        "US.1502576394655843",
    )


async def test_message_without_any_sender_id_is_stored_without_a_conversation(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    text = p.text_message("who am I?", from_=None)
    response = await p.deliver(client, p.inbound(text, contacts=[]))
    assert response.status_code == 200
    row = await stored.message(runtime, text["id"])
    assert (row.conversation_id, row.phone_number_id, row.text_body) == (
        None,
        PHONE_NUMBER_ID,
        "who am I?",
    )
    assert await stored.conversations(runtime) == []

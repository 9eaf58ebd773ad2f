"""Requests that break Meta's documented limits get a clear 422, and nothing is sent."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx

from app.runtime import Runtime
from tests.outbound.conftest import SEND_URL, customer_wrote, hours, message_rows

TO = {"to": "919876543210"}


def _buttons(*titles: str, body: str = "Choose") -> dict[str, Any]:
    return {
        "type": "interactive",
        **TO,
        "interactive": {
            "type": "button",
            "body": body,
            "buttons": [{"id": f"b{i}", "title": t} for i, t in enumerate(titles)],
        },
    }


def _list(*sections: dict[str, Any], button: str = "Options") -> dict[str, Any]:
    return {
        "type": "interactive",
        **TO,
        "interactive": {
            "type": "list",
            "body": "Pick a slot",
            "button": button,
            "sections": list(sections),
        },
    }


def _rows(n: int, title: str = "Row", start: int = 0) -> list[dict[str, str]]:
    return [{"id": f"r{start + i}", "title": title} for i in range(n)]


INVALID: dict[str, tuple[dict[str, Any], str]] = {
    "text over 4096 characters": ({"type": "text", **TO, "body": "x" * 4097}, "body"),
    "blank text": ({"type": "text", **TO, "body": "   "}, "body"),
    "no recipient": ({"type": "text", "body": "Hi"}, "exactly one of `to` and `conversation_id`"),
    "two recipients": (
        {"type": "text", **TO, "conversation_id": 1, "body": "Hi"},
        "exactly one of `to` and `conversation_id`",
    ),
    "not a phone number": ({"type": "text", "to": "call me", "body": "Hi"}, "not a phone number"),
    "too short a number": ({"type": "text", "to": "123", "body": "Hi"}, "digits"),
    "unknown type": ({"type": "carrier_pigeon", **TO}, "type"),
    "unknown field": ({"type": "text", **TO, "body": "Hi", "colour": "red"}, "colour"),
    "caption over 1024 characters": (
        {"type": "image", **TO, "link": "https://example.com/a.png", "caption": "x" * 1025},
        "caption",
    ),
    "caption on audio": (
        {"type": "audio", **TO, "id": "1013859600285441", "caption": "listen"},
        "caption",
    ),
    "media by link and id": (
        {"type": "image", **TO, "link": "https://example.com/a.png", "id": "1013859600285441"},
        "exactly one of `link` and `id`",
    ),
    "media by neither": ({"type": "video", **TO}, "exactly one of `link` and `id`"),
    "media link not http": ({"type": "image", **TO, "link": "ftp://example.com/a.png"}, "link"),
    "four buttons": (_buttons("A", "B", "C", "D"), "buttons"),
    "button title over 20 characters": (_buttons("x" * 21), "title"),
    "no buttons": (_buttons(), "buttons"),
    "duplicate button titles": (_buttons("Yes", "Yes"), "unique"),
    "button body over 1024 characters": (_buttons("Yes", body="x" * 1025), "body"),
    "list over 10 rows": (
        _list({"title": "A", "rows": _rows(6)}, {"title": "B", "rows": _rows(5, start=6)}),
        "at most 10 rows",
    ),
    "sections without titles": (
        _list({"rows": _rows(1)}, {"rows": _rows(1, start=1)}),
        "needs a title",
    ),
    "row title over 24 characters": (_list({"rows": _rows(1, title="x" * 25)}), "title"),
    "list button over 20 characters": (_list({"rows": _rows(1)}, button="x" * 21), "button"),
    "latitude out of range": (
        {"type": "location", **TO, "latitude": 91, "longitude": 0},
        "latitude",
    ),
    "template name with spaces": (
        {"type": "template", **TO, "name": "Order Update", "language": "en_US"},
        "name",
    ),
    "template without language": ({"type": "template", **TO, "name": "order_update"}, "language"),
    "reaction without message": ({"type": "reaction", **TO, "emoji": "\U0001f44d"}, "message_id"),
}


@pytest.mark.parametrize(("body", "says"), INVALID.values(), ids=INVALID.keys())
async def test_invalid_send_request_is_422_and_sends_nothing(
    api: httpx.AsyncClient,
    runtime: Runtime,
    meta: respx.Route,
    body: dict[str, Any],
    says: str,
) -> None:
    await customer_wrote(runtime, hours(1))
    stored_before = await message_rows(runtime)

    response = await api.post(SEND_URL, json=body)

    assert response.status_code == 422, response.text
    assert response.json()["error"] == "validation_error"
    assert says in response.json()["detail"]
    assert meta.call_count == 0
    assert await message_rows(runtime) == stored_before


async def test_body_that_is_not_json_is_422(api: httpx.AsyncClient, meta: respx.Route) -> None:
    response = await api.post(
        SEND_URL, content=b"{not json", headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 422
    assert response.json()["error"] == "validation_error"
    assert meta.call_count == 0


UNSTORABLE: dict[str, dict[str, Any]] = {
    "NUL in reply_to": {"type": "text", **TO, "body": "Hi", "reply_to": "wamid.A\x00B"},
    "NUL in the text": {"type": "text", **TO, "body": "Hi\x00there"},
    "NUL in a reaction's message id": {
        "type": "reaction",
        **TO,
        "message_id": "wamid.\x00",
        "emoji": "\U0001f44d",
    },
    "NUL in a template component": {
        "type": "template",
        **TO,
        "name": "order_update",
        "language": "en_US",
        "components": [{"type": "body", "parameters": [{"type": "text", "text": "a\x00"}]}],
    },
    "NUL in a button id": _buttons("Yes"),
    "lone surrogate in a caption": {
        "type": "image",
        **TO,
        "link": "https://example.com/a.png",
        "caption": "\ud800",
    },
}
UNSTORABLE["NUL in a button id"]["interactive"]["buttons"][0]["id"] = "b\x00"


@pytest.mark.parametrize("body", UNSTORABLE.values(), ids=UNSTORABLE.keys())
async def test_text_no_column_can_store_is_422_before_meta_is_called(
    api: httpx.AsyncClient, runtime: Runtime, meta: respx.Route, body: dict[str, Any]
) -> None:
    await customer_wrote(runtime, hours(1))
    stored_before = await message_rows(runtime)

    response = await api.post(
        SEND_URL,
        content=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 422, response.text
    assert response.json()["error"] == "validation_error"
    assert meta.call_count == 0
    assert await message_rows(runtime) == stored_before

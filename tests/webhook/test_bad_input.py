"""Authentic but unusable bodies get a 400 (or 413) JSON error that says why; nothing is stored."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.main import create_app
from app.runtime import Runtime
from tests.conftest import make_settings, signed_headers
from tests.support.databases import TestDatabase
from tests.support.payloads import WEBHOOK_URL, deliver, encode, inbound, message, text_message
from tests.webhook import stored


@pytest.mark.parametrize(
    "body", [b"{not json", b"", b'{"object": "whatsapp_business_account"', b"\xff\xfe"]
)
async def test_malformed_json_is_a_400_saying_so(
    client: httpx.AsyncClient, runtime: Runtime, body: bytes
) -> None:
    response = await deliver(client, body)
    assert response.status_code == 400
    error = response.json()
    assert error["error"] == "malformed_json"
    assert "not valid JSON" in error["detail"]
    assert await stored.only_events_stored(runtime)


async def test_malformed_json_is_kept_byte_for_byte_as_a_rejected_event(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    body = b'{"object": "whatsapp_business_account", \xff'
    response = await deliver(client, body)
    (event,) = await stored.events(runtime)
    assert response.json()["event_id"] == event.id
    assert event.raw_body == body
    assert (event.stored_items, event.rejected_items) == (0, 1)
    assert event.rejections[0]["path"] == "body"
    assert "not valid JSON" in event.rejections[0]["reason"]


@pytest.mark.parametrize(
    ("payload", "named"),
    [
        ({"object": "page", "entry": []}, "object"),
        ({"entry": []}, "object"),
        ({"object": "whatsapp_business_account"}, "entry"),
        ({"object": "whatsapp_business_account", "entry": {"id": "1"}}, "entry"),
        ([{"object": "whatsapp_business_account", "entry": []}], "body"),
        ("whatsapp", "body"),
    ],
)
async def test_json_that_is_not_a_whatsapp_webhook_is_a_400_saying_so(
    client: httpx.AsyncClient, runtime: Runtime, payload: Any, named: str
) -> None:
    response = await deliver(client, encode(payload))
    assert response.status_code == 400
    error = response.json()
    assert error["error"] == "not_a_whatsapp_webhook"
    assert named in error["detail"]
    assert await stored.only_events_stored(runtime)
    (event,) = await stored.events(runtime)
    assert event.raw_body == encode(payload)
    assert event.rejected_items == 1


async def test_message_without_an_id_is_rejected_alone_and_named_by_its_path(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    fine = text_message("fine")
    broken = text_message("no id")
    del broken["id"]
    response = await deliver(client, inbound(fine, broken))
    assert response.status_code == 200
    answer = response.json()
    assert (answer["stored_items"], answer["rejected_items"]) == (1, 1)
    rejection = {"path": "entry.0.changes.0.value.messages.1.id", "reason": "Field required"}
    assert answer["rejections"] == [rejection]
    assert [m.message_id for m in await stored.messages(runtime)] == [fine["id"]]
    (event,) = await stored.events(runtime)
    assert (event.stored_items, event.rejected_items, event.rejections) == (1, 1, [rejection])


async def test_message_with_an_unreadable_timestamp_is_rejected_alone(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    odd = message("text", {"body": "x"}, timestamp=None) | {"timestamp": "yesterday"}
    response = await deliver(client, inbound(odd))
    assert response.status_code == 200
    (rejection,) = response.json()["rejections"]
    assert rejection["path"] == "entry.0.changes.0.value.messages.0.timestamp"
    assert await stored.only_events_stored(runtime)


@pytest.fixture
async def small_limit_client(
    database: TestDatabase, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app whose body limit is 2 KB."""
    app = create_app(make_settings(database.url, tmp_path, max_body_bytes=2048))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http
    await app.state.runtime.close()


def _oversized_body() -> bytes:
    return encode(inbound(text_message("x" * 4096)))


async def test_body_over_the_limit_is_a_413_and_stores_nothing(
    small_limit_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    body = _oversized_body()
    response = await small_limit_client.post(
        WEBHOOK_URL, content=body, headers=signed_headers(body)
    )
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"
    assert await stored.nothing_stored(runtime)


async def test_streamed_body_over_the_limit_is_a_413_and_stores_nothing(
    small_limit_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    body = _oversized_body()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 512):
            yield body[start : start + 512]

    # No Content-Length: the limit is enforced while the body streams in.
    response = await small_limit_client.post(
        WEBHOOK_URL, content=chunks(), headers=signed_headers(body)
    )
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"
    assert await stored.nothing_stored(runtime)


async def test_body_within_the_limit_is_accepted(
    small_limit_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    body = encode(inbound(text_message("short")))
    response = await small_limit_client.post(
        WEBHOOK_URL, content=body, headers=signed_headers(body)
    )
    assert response.status_code == 200
    assert len(await stored.messages(runtime)) == 1

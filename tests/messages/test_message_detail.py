"""GET and PATCH /api/whatsapp/messages/{message_id}: one message, and its notes."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import MediaState, Message
from app.runtime import Runtime
from tests.conftest import PHONE_NUMBER_ID
from tests.messages.store import CUSTOMER, at, store_message

WAMID = "wamid.HBgMOTE5ODc2NTQzMjEwFQIAEhgUM0VCMEQ3RkQ5QTc1QjNGRkM3MjAA"


def url(wamid: str) -> str:
    return f"/api/whatsapp/messages/{quote(wamid, safe='')}"


async def notes_of(session: AsyncSession, wamid: str) -> str:
    notes = await session.scalar(select(Message.notes).where(Message.message_id == wamid))
    assert notes is not None
    return notes


async def test_message_shows_every_stored_column_a_client_needs(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    conversation_id = await store_message(
        runtime,
        WAMID,
        timestamp=at(0),
        message_type="image",
        media_id="1475207126620001",
        media_url="/api/whatsapp/media/1/file",
        mime_type="image/jpeg",
        caption="my receipt",
        media_state=MediaState.STORED,
        media_size=48213,
        context_message_id="wamid.earlier",
    )

    response = await api.get(url(WAMID))

    assert response.status_code == 200
    message = response.json()
    assert message["message_id"] == WAMID
    assert message["conversation_id"] == conversation_id
    assert message["direction"] == "in"
    assert message["phone_number_id"] == PHONE_NUMBER_ID
    assert message["from_number"] == CUSTOMER
    assert message["from_name"] == "John Doe"
    assert message["message_type"] == "image"
    assert message["media_id"] == "1475207126620001"
    assert message["media_url"] == "/api/whatsapp/media/1/file"
    assert message["mime_type"] == "image/jpeg"
    assert message["caption"] == "my receipt"
    assert message["media_state"] == "stored"
    assert message["media_size"] == 48213
    assert message["context_message_id"] == "wamid.earlier"
    assert message["timestamp"] == "2024-01-15T10:30:00Z"
    assert message["status"] == "received"
    assert message["notes"] == ""
    assert message["raw"] == {"id": WAMID, "type": "image"}
    expected_columns = {
        "to_number", "user_id", "text_body", "filename", "latitude", "longitude",
        "location_name", "location_address", "errors", "media_sha256", "media_error",
        "status_at", "created_at", "id",
    }  # fmt: skip
    assert expected_columns <= message.keys()


async def test_location_message_shows_its_coordinates(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    await store_message(
        runtime,
        "wamid.location",
        timestamp=at(0),
        message_type="location",
        latitude=12.9716,
        longitude=77.5946,
        location_name="Our shop",
        location_address="MG Road, Bengaluru",
    )

    message = (await api.get(url("wamid.location"))).json()

    assert (message["latitude"], message["longitude"]) == (12.9716, 77.5946)
    assert message["location_name"] == "Our shop"
    assert message["location_address"] == "MG Road, Bengaluru"


async def test_wamid_containing_a_slash_is_found(api: httpx.AsyncClient, runtime: Runtime) -> None:
    await store_message(runtime, "wamid.HBgM/abc+def=", timestamp=at(0))

    response = await api.get(url("wamid.HBgM/abc+def="))

    assert response.status_code == 200
    assert response.json()["message_id"] == "wamid.HBgM/abc+def="


async def test_unknown_message_is_404(api: httpx.AsyncClient) -> None:
    response = await api.get(url("wamid.nothing"))

    assert response.status_code == 404
    body = response.json()
    assert body["error"] == "not_found"
    assert "wamid.nothing" in body["detail"]


async def test_patch_replaces_the_notes(
    api: httpx.AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    await store_message(runtime, WAMID, timestamp=at(0))

    response = await api.patch(url(WAMID), json={"notes": "Refund issued"})

    assert response.status_code == 200
    assert response.json()["notes"] == "Refund issued"
    assert await notes_of(session, WAMID) == "Refund issued"


async def test_patch_of_unknown_message_is_404(api: httpx.AsyncClient) -> None:
    response = await api.patch(url("wamid.nothing"), json={"notes": "x"})

    assert response.status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"notes": "x", "text_body": "rewritten"},
        {"status": "read"},
        {},
        {"notes": 42},
        {"notes": "x" * 10_001},
    ],
)
async def test_patch_of_anything_but_notes_is_rejected_and_changes_nothing(
    api: httpx.AsyncClient, runtime: Runtime, session: AsyncSession, body: dict[str, Any]
) -> None:
    await store_message(runtime, WAMID, timestamp=at(0), text_body="original")

    response = await api.patch(url(WAMID), json=body)

    assert response.status_code == 422
    assert response.json()["error"] == "validation_error"
    message = await session.scalar(select(Message).where(Message.message_id == WAMID))
    assert message is not None
    assert (message.notes, message.text_body, message.status) == ("", "original", "received")


async def test_patch_with_malformed_json_is_rejected(
    api: httpx.AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    await store_message(runtime, WAMID, timestamp=at(0))

    response = await api.patch(
        url(WAMID), content=b'{"notes": ', headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 422
    assert await notes_of(session, WAMID) == ""

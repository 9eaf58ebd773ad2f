"""The read API answers only requests carrying one of the configured API keys."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Conversation, Message
from app.runtime import Runtime
from tests.conftest import API_KEY
from tests.messages.store import at, store_message

WAMID = "wamid.one"

ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/api/whatsapp/messages/?phone=919876543210", None),
    ("GET", f"/api/whatsapp/messages/{WAMID}", None),
    ("PATCH", f"/api/whatsapp/messages/{WAMID}", {"notes": "changed"}),
    ("POST", "/api/whatsapp/mark-read/", {"phone_number": "919876543210"}),
    ("GET", "/api/whatsapp/conversations/", None),
    ("GET", "/api/whatsapp/conversations/{conversation_id}", None),
    ("PATCH", "/api/whatsapp/conversations/{conversation_id}", {"notes": "changed"}),
]


async def send(
    client: httpx.AsyncClient,
    route: tuple[str, str, dict[str, Any] | None],
    conversation_id: int,
    authorization: str | None,
) -> httpx.Response:
    method, path, body = route
    headers = {"Authorization": authorization} if authorization else {}
    return await client.request(
        method, path.format(conversation_id=conversation_id), json=body, headers=headers
    )


async def assert_unchanged(session: AsyncSession, conversation_id: int) -> None:
    message = await session.scalar(select(Message).where(Message.message_id == WAMID))
    conversation = await session.get(Conversation, conversation_id)
    assert message is not None and conversation is not None
    assert (message.status, message.notes) == ("received", "")
    assert (conversation.unread_count, conversation.notes) == (1, "")


@pytest.mark.parametrize("route", ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
async def test_request_without_a_key_is_401_and_changes_nothing(
    client: httpx.AsyncClient,
    runtime: Runtime,
    session: AsyncSession,
    route: tuple[str, str, dict[str, Any] | None],
) -> None:
    conversation_id = await store_message(runtime, WAMID, timestamp=at(0))

    response = await send(client, route, conversation_id, None)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json()["error"] == "unauthorized"
    await assert_unchanged(session, conversation_id)


@pytest.mark.parametrize(
    "authorization", ["Bearer wrong-key", f"Basic {API_KEY}", f"Bearer {API_KEY}x"]
)
async def test_request_with_a_wrong_key_is_401_and_changes_nothing(
    client: httpx.AsyncClient, runtime: Runtime, session: AsyncSession, authorization: str
) -> None:
    conversation_id = await store_message(runtime, WAMID, timestamp=at(0))

    responses = [await send(client, route, conversation_id, authorization) for route in ROUTES]

    assert [r.status_code for r in responses] == [401] * len(ROUTES)
    assert all(r.json()["error"] == "unauthorized" for r in responses)
    assert all("wrong-key" not in r.text and API_KEY not in r.text for r in responses)
    await assert_unchanged(session, conversation_id)

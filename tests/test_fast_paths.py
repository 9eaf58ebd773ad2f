"""The routes answered ahead of routing answer exactly as their declared routes would."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.config import Settings
from app.fast_paths import FastPaths
from app.main import create_app, fast_routes
from app.runtime import Runtime
from tests.support.payloads import deliver, inbound, text_message

LISTS = ["/api/whatsapp/messages/", "/api/whatsapp/conversations/"]

# Valid and invalid queries alike: every answer, error bodies included, must match.
QUERIES = [
    "",
    "limit=1",
    "limit=2&limit=1",
    "limit=0",
    "limit=201",
    "limit=abc",
    "limit=",
    "cursor=not-a-cursor",
    "phone=%2B91%2098765-43210",
    "phone=US.13491208655302741918",
    "type=text&direction=in",
    "direction=sideways",
    "status=read&since=2024-01-01T00:00:00&until=2030-01-01T00:00:00%2B05:30",
    "since=yesterday",
    "q=order",
    "q=",
    "unread=true",
    "unread=maybe",
    "conversation=1",
    "conversation=0",
    "phone_number_id=106540352242922",
    "phone_number_id=unknown",
    "colour=blue",
    "limit=1&colour=blue&since=never",
]

AUTHORIZATIONS = [None, "Bearer wrong-key", "Basic dXNlcjpwYXNz", "Bearer", "bearer {key}"]


@pytest.fixture
async def routed(settings: Settings) -> AsyncIterator[Any]:
    """The same application with every request going through FastAPI's router."""
    application = create_app(settings)
    application.user_middleware = [m for m in application.user_middleware if m.cls is not FastPaths]
    yield application
    runtime: Runtime = application.state.runtime
    await runtime.close()


async def _answer(app: Any, path: str, query: str, authorization: str | None) -> tuple[Any, ...]:
    headers = {"Authorization": authorization} if authorization else {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.get(f"{path}?{query}", headers=headers)
    return response.status_code, response.headers.get("content-type"), response.json()


async def _conversations_with_messages(client: httpx.AsyncClient) -> None:
    for n in range(3):
        customer = f"91987654321{n}"
        messages = [text_message(f"order {n}.{i}", from_=customer) for i in range(2)]
        assert (await deliver(client, inbound(*messages))).status_code == 200


def test_the_fast_paths_are_the_webhook_and_the_polled_lists() -> None:
    assert {path for _, path in fast_routes()} == {
        "/api/whatsapp/webhook/",
        "/api/whatsapp/webhook",
        *LISTS,
    }


@pytest.mark.parametrize("path", LISTS)
async def test_a_list_answers_every_query_as_its_route_does(
    app: Any, routed: Any, client: httpx.AsyncClient, settings: Settings, path: str
) -> None:
    await _conversations_with_messages(client)
    key = f"Bearer {settings.api_keys[0].get_secret_value()}"
    compared = 0
    for query in QUERIES:
        fast = await _answer(app, path, query, key)
        assert fast == await _answer(routed, path, query, key), query
        compared += fast[0] == 200
    assert compared >= 5


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("authorization", AUTHORIZATIONS)
async def test_a_list_refuses_a_missing_or_wrong_key_as_its_route_does(
    app: Any, routed: Any, settings: Settings, path: str, authorization: str | None
) -> None:
    if authorization is not None:
        authorization = authorization.format(key=settings.api_keys[0].get_secret_value())
    fast = await _answer(app, path, "limit=abc", authorization)
    assert fast == await _answer(routed, path, "limit=abc", authorization)
    assert fast[0] == (422 if authorization and authorization.startswith("bearer ") else 401)

"""GET /api/whatsapp/events with Accept: text/event-stream: live, resumable, across replicas."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.changes import service as changes_service
from app.main import create_app
from tests.changes.sse import SseEvent, read_events
from tests.conftest import API_KEY, make_settings
from tests.support import payloads as p
from tests.support.databases import BACKENDS, TestDatabase
from tests.support.live_server import serving

EVENTS = "/api/whatsapp/events/"
STREAM = {"Authorization": f"Bearer {API_KEY}", "Accept": "text/event-stream"}
# Generous, for a busy machine; the replica test turns the stream's fallback poll off, so
# what arrives there came by notification.
PROMPTLY = 15.0


@pytest.fixture
async def server(app: Any) -> AsyncIterator[str]:
    async with serving(app) as url:
        yield url


async def _take(events: AsyncIterator[SseEvent], n: int) -> list[SseEvent]:
    async def take() -> list[SseEvent]:
        return [await anext(events) for _ in range(n)]

    return await asyncio.wait_for(take(), PROMPTLY)


async def _deliver_texts(url: str, *texts: str) -> None:
    async with httpx.AsyncClient(base_url=url) as client:
        for text in texts:
            await p.deliver(client, p.inbound(p.text_message(text)))


async def test_a_stream_pushes_new_events_as_they_are_committed(server: str) -> None:
    async with (
        httpx.AsyncClient(base_url=server, timeout=10) as client,
        client.stream("GET", EVENTS, headers=STREAM) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = read_events(response)
        await _deliver_texts(server, "first", "second")

        first, second = await _take(events, 2)

    assert (first.event, first.data["data"]["text_body"]) == ("message.received", "first")
    assert second.data["data"]["text_body"] == "second"
    assert int(second.id) > int(first.id)


async def test_a_client_resumes_after_a_disconnect_with_last_event_id(server: str) -> None:
    async with httpx.AsyncClient(base_url=server, timeout=10) as client:
        async with client.stream("GET", EVENTS, headers=STREAM) as response:
            events = read_events(response)
            await _deliver_texts(server, "before 1", "before 2")
            seen = await _take(events, 2)
        # Disconnected: these are committed while nobody listens.
        await _deliver_texts(server, "while away 1", "while away 2")
        headers = {**STREAM, "Last-Event-ID": seen[-1].id}
        async with client.stream("GET", EVENTS, headers=headers) as response:
            events = read_events(response)
            missed = await _take(events, 2)
            await _deliver_texts(server, "after")
            (after,) = await _take(events, 1)

    assert [e.data["data"]["text_body"] for e in missed] == ["while away 1", "while away 2"]
    assert after.data["data"]["text_body"] == "after"


async def test_a_stream_starts_after_since(server: str) -> None:
    await _deliver_texts(server, "old", "newer")
    async with httpx.AsyncClient(base_url=server, timeout=10) as client:
        page = (await client.get(EVENTS, headers={"Authorization": f"Bearer {API_KEY}"})).json()
        params = {"since": page["events"][0]["id"]}
        async with client.stream("GET", EVENTS, headers=STREAM, params=params) as response:
            (event,) = await _take(read_events(response), 1)

    assert event.data["data"]["text_body"] == "newer"


# Replicas share a database on PostgreSQL only (SQLite's listeners are in-process).
@pytest.mark.parametrize("backend", [b for b in BACKENDS if b == "postgresql"])
async def test_another_replica_streams_what_this_one_commits(
    backend: str,
    database: TestDatabase,
    tmp_path: Path,
    server: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On PostgreSQL by NOTIFY: the other replica learns of the commit at once."""
    # Without a notification the stream would not look again for a minute.
    monkeypatch.setattr(changes_service, "POLL_SECONDS", 60.0)
    other = create_app(make_settings(database.url, tmp_path / "other"))
    async with (
        serving(other) as other_url,
        httpx.AsyncClient(base_url=other_url, timeout=10) as client,
        client.stream("GET", EVENTS, headers=STREAM) as response,
    ):
        events = read_events(response)
        await _deliver_texts(server, "to the first replica")

        (event,) = await _take(events, 1)

    assert event.data["data"]["text_body"] == "to the first replica"

"""A database that cannot be reached: JSON 503 with Retry-After, one log line, no traceback.

Each test runs on both backends, each unreachable its own way (`unreachable_url`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.main import create_app
from app.migrate import upgrade_database
from app.outage import RETRY_AFTER_SECONDS
from tests.conftest import API_KEY, make_settings
from tests.support import payloads as p
from tests.support.databases import unreachable_url


@pytest.fixture
async def unreachable_app(backend: str, tmp_path: Path) -> AsyncIterator[Any]:
    application = create_app(make_settings(unreachable_url(backend, tmp_path), tmp_path))
    yield application
    await application.state.runtime.close()


@pytest.fixture
async def api(unreachable_app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=unreachable_app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {API_KEY}"},
    ) as client:
        yield client


def assert_database_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert response.json() == {
        "error": "database_unavailable",
        "detail": "the database could not be reached",
    }


def outage_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "app.outage"]


async def test_a_webhook_delivery_is_answered_503_with_retry_after(
    api: httpx.AsyncClient,
) -> None:
    response = await p.deliver(api, p.inbound(p.text_message("anyone there?")))
    assert_database_unavailable(response)


async def test_an_api_request_is_answered_503_with_retry_after(api: httpx.AsyncClient) -> None:
    assert_database_unavailable(await api.get("/api/whatsapp/conversations/"))


async def test_readiness_is_answered_503_with_retry_after(api: httpx.AsyncClient) -> None:
    assert_database_unavailable(await api.get("/readyz"))


async def test_an_outage_is_logged_once_without_a_traceback_however_many_requests_fail(
    api: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    for _ in range(3):
        await p.deliver(api, p.inbound(p.text_message("hello?")))
        await api.get("/api/whatsapp/messages/")
        await api.get("/readyz")
    [line] = outage_lines(caplog)
    assert line.startswith("database unavailable since ")
    assert all(record.exc_info is None for record in caplog.records)
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == [
        r for r in caplog.records if r.name == "app.outage"
    ]


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_the_first_request_that_works_again_logs_the_end_of_the_outage(
    api: httpx.AsyncClient, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The PostgreSQL version of this, with a server that goes down and comes back, is
    # tests/e2e/test_database_outage_e2e.py.
    for _ in range(2):
        assert_database_unavailable(await api.get("/api/whatsapp/conversations/"))
    (tmp_path / "not-created-yet").mkdir()
    # Alembic runs its own event loop, so it migrates from a thread of its own.
    await asyncio.to_thread(upgrade_database, unreachable_url("sqlite", tmp_path))

    delivered = await p.deliver(api, p.inbound(p.text_message("back?")))

    assert delivered.status_code == 200, delivered.text
    [_started, ended] = outage_lines(caplog)
    assert ended.startswith("database available again after ")
    assert ended.endswith(" s, 2 requests answered 503")

"""When the database fails the answer is 5xx, so Meta delivers again, and nothing is kept."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from app.main import create_app
from app.runtime import Runtime
from tests.conftest import make_settings
from tests.support import payloads as p
from tests.support.databases import TestDatabase, create_database
from tests.webhook import stored


@pytest.fixture
def broken_database(backend: str, database: TestDatabase, tmp_path: Path) -> Iterator[TestDatabase]:
    """A database of this test alone (it will be damaged), dropped afterwards.

    `database` is asked for so that PostgreSQL being unreachable skips (or, in CI, fails)
    this test like every other.
    """
    own = create_database(backend, tmp_path)
    yield own
    own.drop()


@pytest.fixture
async def broken_app(broken_database: TestDatabase, tmp_path: Path) -> AsyncIterator[Any]:
    application = create_app(make_settings(broken_database.url, tmp_path))
    yield application
    await application.state.runtime.close()


async def test_database_failure_answers_5xx_and_stores_nothing(broken_app: Any) -> None:
    runtime: Runtime = broken_app.state.runtime
    async with runtime.engine.begin() as connection:
        await connection.execute(text("DROP TABLE whatsapp_whatsappmessage"))
    transport = httpx.ASGITransport(app=broken_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await p.deliver(client, p.inbound(p.text_message("lost?")))
    assert response.status_code == 503
    assert response.json()["error"] == "database_unavailable"
    # The event log row was written before the failing insert: rolled back with it.
    assert await stored.events(runtime) == []
    assert await stored.conversations(runtime) == []

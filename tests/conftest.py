"""Fixtures: a real database per backend (SQLite and PostgreSQL), the app, a client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db import Base
from app.main import create_app
from app.runtime import Runtime
from tests.support.clock import FixedClock
from tests.support.databases import (
    BACKENDS,
    TestDatabase,
    create_database,
    require_backend,
)
from tests.support.fake_graph import FakeGraph
from tests.support.signing import signature

APP_SECRET = "test-app-secret"
VERIFY_TOKEN = "test-verify-token"
ACCESS_TOKEN = "test-access-token"
PHONE_NUMBER_ID = "106540352242922"
API_KEY = "test-api-key"


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, TestDatabase]]:
    """One migrated database per backend for the whole run, dropped at the end."""
    created: dict[str, TestDatabase] = {}
    yield created
    for database in created.values():
        database.drop()


def _database_for(
    backend: str, databases: dict[str, TestDatabase], tmp_path_factory: pytest.TempPathFactory
) -> TestDatabase:
    if backend not in databases:
        require_backend(backend)
        databases[backend] = create_database(backend, tmp_path_factory.mktemp(backend))
    return databases[backend]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each database test runs once on SQLite and once on PostgreSQL."""
    return str(request.param)


@pytest.fixture
def database(
    backend: str,
    databases: dict[str, TestDatabase],
    tmp_path_factory: pytest.TempPathFactory,
) -> TestDatabase:
    """The run's database for this backend (created on first use)."""
    return _database_for(backend, databases, tmp_path_factory)


def make_settings(database_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    """Settings for a test: known secrets, no worker, media under tmp_path."""
    values: dict[str, Any] = {
        "environment": "test",
        "database_url": database_url,
        "whatsapp_app_secret": APP_SECRET,
        "whatsapp_verify_token": VERIFY_TOKEN,
        "whatsapp_access_token": ACCESS_TOKEN,
        "whatsapp_phone_number_id": PHONE_NUMBER_ID,
        "api_keys": [API_KEY],
        "worker_enabled": False,
        "media_dir": str(tmp_path / "media"),
        "session_secret": "test-session-secret",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def settings(database: TestDatabase, tmp_path: Path) -> Settings:
    """Settings pointing at the backend's database."""
    return make_settings(database.url, tmp_path)


async def _empty_tables(runtime: Runtime) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    async with runtime.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            await connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                await connection.execute(text(f"DELETE FROM {table}"))


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Any]:
    """The application on an emptied database."""
    application = create_app(settings)
    runtime: Runtime = application.state.runtime
    await _empty_tables(runtime)
    yield application
    await runtime.close()


@pytest.fixture
def runtime(app: Any) -> Runtime:
    """The app's runtime (engine, sessions, Graph client)."""
    result: Runtime = app.state.runtime
    return result


@pytest.fixture
def clock(runtime: Runtime) -> FixedClock:
    """The app's clock, fixed at a Wednesday noon (UTC) for this test.

    Routes and job handlers read the time from the runtime, so a test that asks for this
    fixture gives the same answer at any hour it runs.
    """
    fixed = FixedClock()
    runtime.clock = fixed
    return fixed


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the app in-process, with no credentials."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
async def api(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client that sends the API key with every request."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {API_KEY}"},
    ) as http:
        yield http


@pytest.fixture
async def session(runtime: Runtime) -> AsyncIterator[AsyncSession]:
    """A session of its own, for looking at what the app stored."""
    async with runtime.sessions() as db:
        yield db


@pytest.fixture
def fake_graph() -> Iterator[FakeGraph]:
    """A fake Graph API on a local port; point a service at it with `fake_graph.env()`."""
    with FakeGraph(access_token=ACCESS_TOKEN) as fake:
        yield fake


def signed_headers(body: bytes, secret: str = APP_SECRET) -> dict[str, str]:
    """Headers of an authentic webhook POST of `body`."""
    return {"Content-Type": "application/json", "X-Hub-Signature-256": signature(body, secret)}

"""Fixtures of the end-to-end tests: a database of their own and the service's environment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import API_KEY, APP_SECRET, PHONE_NUMBER_ID, VERIFY_TOKEN
from tests.support.databases import TestDatabase, create_database, require_backend
from tests.support.fake_graph import FakeGraph


@pytest.fixture
def fresh_database(backend: str, tmp_path: Path) -> Iterator[TestDatabase]:
    """A new, migrated database, so the processes under test see only this test's rows."""
    require_backend(backend)
    database = create_database(backend, tmp_path)
    yield database
    database.drop()


@pytest.fixture
def empty_database(backend: str, tmp_path: Path) -> Iterator[TestDatabase]:
    """A new database without any table, for the service under test to migrate."""
    require_backend(backend)
    database = create_database(backend, tmp_path, migrate=False)
    yield database
    database.drop()


def service_environment(database_url: str, fake_graph: FakeGraph, tmp_path: Path) -> dict[str, str]:
    """The environment of a `whatsapp-inbox` process under test on `database_url`: the
    test's secrets, its worker inside the web process polling often, Meta faked locally."""
    return {
        "ENVIRONMENT": "test",
        "DATABASE_URL": database_url,
        "WHATSAPP_APP_SECRET": APP_SECRET,
        "WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN,
        "WHATSAPP_PHONE_NUMBER_ID": PHONE_NUMBER_ID,
        "API_KEYS": API_KEY,
        "WORKER_ENABLED": "true",
        "WORKER_POLL_SECONDS": "0.2",
        "MEDIA_DIR": str(tmp_path / "media"),
        **fake_graph.env(),
    }


@pytest.fixture
def service_env(
    fresh_database: TestDatabase, fake_graph: FakeGraph, tmp_path: Path
) -> dict[str, str]:
    """The service's environment (`service_environment`) on the test's fresh database."""
    return service_environment(fresh_database.url, fake_graph, tmp_path)

"""Real databases for the tests: a fresh PostgreSQL database or SQLite file per run."""

from __future__ import annotations

import asyncio
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from app.migrate import upgrade_database
from tests.support.processes import free_port

POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
BACKENDS = tuple(
    b.strip() for b in os.environ.get("TEST_DATABASES", "sqlite,postgresql").split(",") if b.strip()
)
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def postgres_available() -> bool:
    """True when the PostgreSQL server for the tests answers."""

    async def probe() -> bool:
        try:
            connection = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=3)
        except (OSError, asyncpg.PostgresError):
            return False
        await connection.close()
        return True

    return asyncio.run(probe())


def require_backend(backend: str) -> None:
    """Skip a PostgreSQL test when the server is unreachable; under CI, fail it instead."""
    import pytest

    if backend == "postgresql" and not postgres_available():
        if IN_CI:
            pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}, and CI needs it")
        pytest.skip("PostgreSQL is not reachable (set CI=true to make this a failure)")


@dataclass
class TestDatabase:
    """A migrated database that exists for the length of a test run."""

    __test__ = False  # a helper, not a test class

    backend: str
    url: str
    name: str

    def drop(self) -> None:
        """Remove the database (PostgreSQL) or its files (SQLite)."""
        if self.backend == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(self.name + suffix).unlink(missing_ok=True)
            return

        async def drop() -> None:
            connection = await asyncpg.connect(POSTGRES_ADMIN_URL)
            try:
                await connection.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            finally:
                await connection.close()

        asyncio.run(drop())


def unreachable_url(backend: str, directory: Path) -> str:
    """A database URL that fails to connect: PostgreSQL on a port nothing listens on (the
    connection is refused), SQLite in a folder of `directory` not created yet (the file
    cannot be opened; create `not-created-yet` to make it work)."""
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{directory}/not-created-yet/inbox.db"
    return f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/inbox"


def create_database(backend: str, directory: Path, *, migrate: bool = True) -> TestDatabase:
    """Create a new, empty database, migrated unless `migrate` is false.

    Call outside a running event loop.
    """
    name = f"whatsapp_inbox_test_{uuid.uuid4().hex[:12]}"
    if backend == "sqlite":
        path = str(directory / f"{name}.db")
        database = TestDatabase(backend, f"sqlite+aiosqlite:///{path}", path)
    else:

        async def create() -> None:
            connection = await asyncpg.connect(POSTGRES_ADMIN_URL)
            try:
                await connection.execute(f'CREATE DATABASE "{name}"')
            finally:
                await connection.close()

        asyncio.run(create())
        base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace(
            "postgresql://", "postgresql+asyncpg://"
        )
        database = TestDatabase(backend, f"{base}/{name}", name)
    if migrate:
        upgrade_database(database.url)
    return database

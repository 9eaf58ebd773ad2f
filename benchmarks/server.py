"""The real server on a fresh database, for the benchmarks that load it."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.databases import create_database
from tests.support.processes import running_server

SECRET = "benchmark-app-secret"


@contextmanager
def benchmark_server(backend: str) -> Iterator[str]:
    """`whatsapp-inbox serve` (no job worker, quiet logs) on a new database of `backend`,
    signed with SECRET, for the length of a `with` block; yields its URL. The database is
    dropped afterwards."""
    with tempfile.TemporaryDirectory() as directory:
        database = create_database(backend, Path(directory))
        env = {
            "ENVIRONMENT": "test",
            "DATABASE_URL": database.url,
            "WHATSAPP_APP_SECRET": SECRET,
            "WORKER_ENABLED": "false",
            "LOG_LEVEL": "warning",
        }
        try:
            with running_server(env, Path(directory) / "server.log") as url:
                yield url
        finally:
            database.drop()

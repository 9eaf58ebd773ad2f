"""The service behind PgBouncer in transaction pooling mode (as managed platforms offer it).

PgBouncer runs for real (tests/support/pgbouncer.py) with two server connections, so the
service's transactions take turns on them, as they do in production.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from app.db import create_engine
from tests.conftest import API_KEY
from tests.support.databases import TestDatabase
from tests.support.deliveries import deliver_concurrently
from tests.support.payloads import encode, inbound, text_message
from tests.support.pgbouncer import PgBouncer
from tests.support.processes import start_server

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("backend", ["postgresql"])]

CUSTOMERS = [f"1650555{n:04d}" for n in range(16)]


@pytest.fixture
def bouncer() -> Iterator[PgBouncer]:
    """A PgBouncer in transaction pooling mode in front of the tests' PostgreSQL."""
    with PgBouncer.start() as running:
        yield running


def test_service_behind_pgbouncer_migrates_and_stores_concurrent_deliveries_once(
    service_env: dict[str, str],
    empty_database: TestDatabase,
    bouncer: PgBouncer,
    tmp_path: Path,
) -> None:
    env = {
        **service_env,
        "DATABASE_URL": bouncer.url(empty_database.name),
        "DATABASE_POOLER": "pgbouncer",
    }
    server, url = start_server(env, tmp_path / "server.log", args=["--workers", "2"])
    try:
        messages = [text_message(f"hello {n}", from_=c) for n, c in enumerate(CUSTOMERS)]
        bodies = [encode(inbound(message)) for message in messages]
        statuses = deliver_concurrently(url, bodies, copies=3, senders=12)
        assert set(statuses) == {200}, server.log()
        with httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=10
        ) as api:
            listed = api.get("/api/whatsapp/conversations/", params={"limit": 50})
            assert listed.status_code == 200, listed.text
            counts = {c["phone_number"]: c["message_count"] for c in listed.json()["conversations"]}
    finally:
        server.stop()
    assert counts == dict.fromkeys(CUSTOMERS, 1)
    assert "prepared statement" not in server.log()


async def _prepared_statements_left_after_traffic(url: str) -> int:
    engine = create_engine(url)

    async def transaction(n: int) -> None:
        async with engine.begin() as connection:
            await connection.execute(text("SELECT CAST(:n AS integer)"), {"n": n})

    try:
        for _ in range(5):
            await asyncio.gather(*(transaction(n) for n in range(20)))
        async with engine.begin() as connection:
            left = await connection.execute(text("SELECT count(*) FROM pg_prepared_statements"))
            return int(left.scalar_one())
    finally:
        await engine.dispose()


def test_url_flag_leaves_no_prepared_statement_on_pgbouncers_server_connections(
    fresh_database: TestDatabase, bouncer: PgBouncer
) -> None:
    # Statements left behind would pile up on the server connections that every client
    # shares, and a statement name reused by another client would collide.
    url = f"{bouncer.url(fresh_database.name)}?pgbouncer=true"
    assert asyncio.run(_prepared_statements_left_after_traffic(url)) == 0

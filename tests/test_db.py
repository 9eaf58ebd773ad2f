"""Engines for each kind of database URL."""

import asyncio
import json
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

import app.db
from app.db import create_engine
from app.runtime import Runtime
from tests.support.databases import TestDatabase


async def test_in_memory_sqlite_engine_connects() -> None:
    engine = create_engine("sqlite+aiosqlite:///:memory:")
    async with engine.connect() as connection:
        assert (await connection.execute(text("SELECT 1"))).scalar() == 1
    await engine.dispose()


async def test_sqlite_file_engine_hands_one_connection_around(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/one.db")
    assert engine.pool.size() == 1  # type: ignore[attr-defined]
    async with engine.connect() as connection:
        mode = (await connection.execute(text("PRAGMA journal_mode"))).scalar()
    assert mode == "wal"
    await engine.dispose()


async def _backend_pid(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def _terminate(engine: AsyncEngine, pid: int) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_a_connection_lost_while_idle_is_replaced_before_use(
    database: TestDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app.db, "PING_AFTER_IDLE_SECONDS", 0.0)
    engine = create_engine(database.url)
    other = create_engine(database.url)
    try:
        lost = await _backend_pid(engine)
        await _terminate(other, lost)

        assert await _backend_pid(engine) != lost
    finally:
        await engine.dispose()
        await other.dispose()


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_postgresql_pool_keeps_its_connections_through_a_burst(
    database: TestDatabase,
) -> None:
    engine = create_engine(database.url)
    try:
        burst = [await engine.connect() for _ in range(16)]
        pids = {(await c.execute(text("SELECT pg_backend_pid()"))).scalar_one() for c in burst}
        for connection in burst:
            await connection.close()
        again = [await engine.connect() for _ in range(16)]
        reused = {(await c.execute(text("SELECT pg_backend_pid()"))).scalar_one() for c in again}
        for connection in again:
            await connection.close()
    finally:
        await engine.dispose()
    assert reused == pids


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_read_sessions_run_each_statement_on_its_own_on_postgresql(
    runtime: Runtime,
) -> None:
    # CURRENT_TIMESTAMP is when the transaction began: the same all through one.
    async with runtime.reads() as session:
        first = (await session.execute(text("SELECT CURRENT_TIMESTAMP"))).scalar_one()
        await asyncio.sleep(0.05)
        second = (await session.execute(text("SELECT CURRENT_TIMESTAMP"))).scalar_one()
    assert first != second


@pytest.mark.parametrize(
    "value",
    [
        {"text": "caf\u00e9 \U0001f600", "nul": "a\x00b", "n": [1, 2.5, None, True]},
        {"lone surrogate": "\ud83d"},
        {"past 64 bits": 2**70},
    ],
    ids=["ordinary", "lone-surrogate", "big-integer"],
)
def test_json_text_writes_any_value_a_body_can_hold(value: object) -> None:
    assert json.loads(app.db.json_text(value)) == value


# The json type, which keeps its text as given, is PostgreSQL's.
@pytest.mark.parametrize("backend", ["postgresql"])
async def test_json_text_is_read_back_by_postgresql_as_it_was_given(runtime: Runtime) -> None:
    value = {"nul": "a\x00b", "lone surrogate": "\ud83d", "big": 2**70}
    async with runtime.engine.connect() as connection:
        stored = await connection.execute(
            text("SELECT CAST(:value AS json)::text"), {"value": app.db.json_text(value)}
        )
        assert json.loads(stored.scalar_one()) == value

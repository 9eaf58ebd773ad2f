"""Engines for each kind of database URL."""

from pathlib import Path

from sqlalchemy import text

from app.db import create_engine


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

"""Behind PgBouncer the engine hands asyncpg no prepared statement caches.

These tests look at the arguments the engine gives asyncpg's connect(), stopping it
there, so no database (nor PgBouncer) is needed; tests/e2e/test_pgbouncer_e2e.py runs
the service through a real PgBouncer.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db import create_engine
from app.pooler import Pooler

URL = "postgresql+asyncpg://inbox@db.internal:6432/inbox"


class _Stopped(Exception):
    """Raised in place of connecting, once the connect arguments are known."""


async def _connect_arguments(engine: AsyncEngine) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    called: list[bool] = []

    def _capture(*_args: Any, **kwargs: Any) -> None:
        seen.update(kwargs)
        called.append(True)
        raise _Stopped

    # The driver's connect() itself is replaced: whatever listens on the engine's
    # do_connect still ends up calling it with the arguments the engine chose.
    engine.sync_engine.dialect.connect = _capture  # type: ignore[method-assign]
    with pytest.raises(Exception, match="_Stopped"):
        async with engine.connect():
            pass
    assert called
    await engine.dispose()
    return seen


async def _arguments_for(url: str, pooler: Pooler = "none") -> dict[str, Any]:
    return await _connect_arguments(create_engine(url, pooler=pooler))


def _caches_off(arguments: dict[str, Any]) -> bool:
    return (
        arguments.get("statement_cache_size") == 0
        and int(arguments.get("prepared_statement_cache_size", -1)) == 0
    )


async def test_postgresql_without_a_pooler_keeps_the_statement_caches() -> None:
    arguments = await _arguments_for(URL)
    assert "statement_cache_size" not in arguments
    assert "prepared_statement_cache_size" not in arguments


async def test_database_pooler_pgbouncer_turns_both_statement_caches_off() -> None:
    assert _caches_off(await _arguments_for(URL, pooler="pgbouncer"))


async def test_pgbouncer_flag_in_the_url_turns_both_statement_caches_off() -> None:
    assert _caches_off(await _arguments_for(f"{URL}?pgbouncer=true"))


async def test_pgbouncer_flag_never_reaches_asyncpg() -> None:
    engine = create_engine(f"{URL}?pgbouncer=true&application_name=inbox")
    assert "pgbouncer" not in engine.url.query
    arguments = await _connect_arguments(engine)
    assert "pgbouncer" not in arguments
    assert arguments["application_name"] == "inbox"


async def test_pgbouncer_flag_set_to_false_keeps_the_statement_caches() -> None:
    arguments = await _arguments_for(f"{URL}?pgbouncer=false")
    assert "statement_cache_size" not in arguments
    assert "pgbouncer" not in arguments


async def test_sqlalchemy_cache_size_zero_in_the_url_turns_asyncpgs_cache_off_too() -> None:
    assert _caches_off(await _arguments_for(f"{URL}?prepared_statement_cache_size=0"))


async def test_statements_stay_unnamed_behind_pgbouncer() -> None:
    # A named statement outlives its transaction on PgBouncer's server connection
    # (asyncpg closes it on its next statement, which may run on another connection).
    arguments = await _arguments_for(URL, pooler="pgbouncer")
    assert "prepared_statement_name_func" not in arguments


async def test_sqlite_ignores_the_pooler_setting(tmp_path: Any) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/p.db", pooler="pgbouncer")
    arguments = await _connect_arguments(engine)
    assert "statement_cache_size" not in arguments

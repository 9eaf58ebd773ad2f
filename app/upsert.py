"""INSERT … ON CONFLICT for whichever database the session talks to."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def dialect_insert(session: AsyncSession, table: Any) -> Any:
    """An `insert()` with `on_conflict_do_nothing/do_update` for the session's dialect.

    PostgreSQL and SQLite spell upserts the same way in SQLAlchemy, but each dialect has
    its own construct; this picks the right one.
    """
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise RuntimeError(f"unsupported database dialect: {name}")

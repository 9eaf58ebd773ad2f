"""Engine, session factory, declarative base and the column types both databases share."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, MetaData, Text, event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from app.pooler import PGBOUNCER_CONNECT_ARGS, Pooler, behind_pgbouncer, without_flag

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base of every model; constraint names are fixed so migrations match on both databases."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


# What reads the current time: `utcnow` in service, a fixed moment in tests. Code that
# depends on the time takes `now` from its caller; only the outermost caller (a route,
# a job handler, the worker loop) reads a Clock, once.
Clock = Callable[[], datetime]


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    SQLite keeps no zone, so values are normalised to naive UTC on the way in and
    marked UTC on the way out; PostgreSQL gets `timestamptz`.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# PostgreSQL refuses NUL in text; both databases store U+FFFD in its place, so a value
# reads back the same on either (the message's raw JSON keeps the original).
REPLACEMENT_CHARACTER = "\ufffd"


def replace_nul(value: str) -> str:
    """`value` with each NUL character replaced by U+FFFD."""
    return value.replace("\x00", REPLACEMENT_CHARACTER) if "\x00" in value else value


class SafeJSON(TypeDecorator[Any]):
    """JSON kept exactly as given, NUL characters included.

    The driver receives it serialised, where a NUL is the escape `\\u0000`: PostgreSQL's
    `json` type (unlike `jsonb`) keeps that text as it is, and SQLite keeps any text.
    """

    impl = JSON
    cache_ok = True


class SafeText(TypeDecorator[str]):
    """Text that never fails on a NUL character (stored as U+FFFD)."""

    impl = Text

    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return replace_nul(value) if value else value


def _wrap_connect_failures(engine: AsyncEngine) -> AsyncEngine:
    """Make a failure to connect a DB-API error, which SQLAlchemy wraps like any other.

    asyncpg raises plain OSError (refused, unreachable) and TimeoutError while
    connecting; SQLAlchemy passes those through unwrapped, so they would escape the
    handlers of database errors as unexpected exceptions.
    """

    @event.listens_for(engine.sync_engine, "do_connect")
    def _connect(dialect: Dialect, _record: Any, cargs: Any, cparams: Any) -> Any:
        dbapi = dialect.loaded_dbapi
        try:
            return dialect.connect(*cargs, **cparams)
        except dbapi.Error:
            raise
        except Exception as exc:
            raise dbapi.OperationalError(f"cannot connect: {type(exc).__name__}: {exc}") from exc

    return engine


def is_in_memory_sqlite(url: str) -> bool:
    """True for an SQLite database that lives in one process's memory, not in a file."""
    parsed = make_url(url)
    return parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")


def create_engine(url: str, *, pooler: Pooler = "none") -> AsyncEngine:
    """An async engine for `url`, tuned for the database it points at.

    SQLite gets WAL, a busy timeout and `BEGIN IMMEDIATE`, so that concurrent writers
    (web requests, the worker, and other processes on the same file) wait for each other
    instead of failing with "database is locked" when two read transactions both try to
    write. PostgreSQL behind PgBouncer (`pooler`, or a flag in the URL: see app.pooler)
    gets no prepared statement caches.
    """
    if url.startswith("sqlite"):
        # One connection per process: SQLite has one writer at a time anyway, and the
        # pool's queue hands it over in arrival order, where SQLite's busy handler would
        # let a waiting writer sleep and lose the race again and again. (An in-memory
        # database is a single connection already.)
        pool = (
            {}
            if is_in_memory_sqlite(url)
            else {"pool_size": 1, "max_overflow": 0, "pool_timeout": 60}
        )
        engine = create_async_engine(url, connect_args={"timeout": 30}, **pool)
        sync_engine = engine.sync_engine

        @event.listens_for(sync_engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(sync_engine, "begin")
        def _on_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return _wrap_connect_failures(engine)
    parsed = make_url(url)
    connect_args = dict(PGBOUNCER_CONNECT_ARGS) if behind_pgbouncer(parsed, pooler) else {}
    return _wrap_connect_failures(
        create_async_engine(
            without_flag(parsed),
            pool_size=10,
            max_overflow=20,
            pool_pre_ping=True,
            connect_args=connect_args,
        )
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded attributes after commit (responses are built after it)."""
    return async_sessionmaker(engine, expire_on_commit=False)

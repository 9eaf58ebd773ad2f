"""Engine, session factory, declarative base and the column types both databases share."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import JSON, ColumnElement, DateTime, MetaData, Text, cast, event, type_coerce
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import InvalidatePoolError
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
        value = with_utc_zone(value).astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return with_utc_zone(value).astimezone(UTC)


def with_utc_zone(value: datetime) -> datetime:
    """`value`, a time without a zone taken as UTC (as the database keeps times); the
    driver would take such a time as the server's local time."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


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


def json_text(value: Any) -> str:
    """`value` as the text of a JSON column.

    orjson writes it several times faster than the standard library; what orjson
    refuses (a lone surrogate, an integer over 64 bits, both valid in a JSON body) the
    standard library writes, as escapes and digits.
    """
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value)


class _JSONText(TypeDecorator[Any]):
    """JSON read as the text the database keeps, to be written into a response as it is."""

    impl = Text
    cache_ok = True

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        return None if value is None else orjson.Fragment(value)


def as_json_text(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """A JSON column selected as its text, which app.responses writes out unchanged.

    A listed message carries Meta's JSON of it: parsing each one into objects, only to
    write them out again, cost a tenth of answering a page.
    """
    return type_coerce(cast(column, Text), _JSONText()).label(column.key)


class SafeText(TypeDecorator[str]):
    """Text that never fails on a NUL character (stored as U+FFFD)."""

    impl = Text

    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return replace_nul(value) if value else value


# The escape character of LIKE patterns built from user input (as autoescape uses).
LIKE_ESCAPE = "/"


def escape_like(text: str) -> str:
    """`text` with LIKE's wildcards escaped, to be matched as plain text with
    `escape=LIKE_ESCAPE` (autoescape needs the value in the statement; this lets it be
    a bound parameter of a statement built once)."""
    return (
        text.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2)
        .replace("%", LIKE_ESCAPE + "%")
        .replace("_", LIKE_ESCAPE + "_")
    )


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
    # Up to 30 connections, all kept once opened: with a smaller pool and overflow on
    # top, every burst of more than pool_size requests at once closed the extra
    # connections on return and opened them again (a TCP, TLS and auth handshake each).
    engine = create_async_engine(
        without_flag(parsed), pool_size=30, max_overflow=0, connect_args=connect_args
    )
    return _wrap_connect_failures(_ping_when_idle(engine))


# A connection back in the pool for less than this is used again without a ping.
PING_AFTER_IDLE_SECONDS = 1.0


def _ping_when_idle(engine: AsyncEngine) -> AsyncEngine:
    """Ping a pooled connection before use only if it sat idle for a while.

    asyncpg's ping is three round trips (BEGIN, an empty query, ROLLBACK): pinging on
    every checkout (pool_pre_ping) cost a busy read endpoint a fifth of its time, while
    a connection used a moment ago is alive all but always. One idle longer (the server
    restarted, a proxy dropped it) is pinged; when the ping fails, every connection
    opened before is replaced, as pool_pre_ping does. The rare connection lost within
    the last second fails its request, which replaces the pool's connections too.
    """

    @event.listens_for(engine.sync_engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            # The pool then connects anew for this checkout.
            raise InvalidatePoolError(
                f"ping failed after {PING_AFTER_IDLE_SECONDS} s idle"
            ) from exc

    return engine


def read_only(engine: AsyncEngine) -> AsyncEngine:
    """The engine for requests that only read: on PostgreSQL without BEGIN and COMMIT.

    Each statement of a read runs on its own, as it would in a READ COMMITTED
    transaction (the default), so leaving out the two round trips changes no answer.
    SQLite keeps its transactions, which its connection setup relies on.
    """
    if engine.dialect.name != "postgresql":
        return engine
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded attributes after commit (responses are built after it)."""
    return async_sessionmaker(engine, expire_on_commit=False)

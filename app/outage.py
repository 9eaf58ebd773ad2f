"""Database outages: which failures mean the database is unavailable, and one log line each.

During an outage every request and every worker loop fails the same way; a traceback per
failure would bury the one fact that matters. The tracker logs when an outage starts and
when it ends, and counts the requests answered 503 in between.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator
from datetime import datetime

import asyncpg
from sqlalchemy import exc as sa_exc

from app.db import utcnow

logger = logging.getLogger(__name__)

# What a 503 asks clients to wait: long enough for a restart or a failover to finish,
# short enough that a healthy database is back in use at once.
RETRY_AFTER_SECONDS = 5

# The exceptions that reach the app from the database; `is_database_unavailable` decides
# which of them are an outage. Raw driver errors at connect time are wrapped into
# OperationalError by the engine (app/db.py), so these two cover everything.
DATABASE_ERRORS: tuple[type[Exception], ...] = (sa_exc.DBAPIError, sa_exc.TimeoutError)

# PostgreSQL SQLSTATEs of a server that cannot serve: class 08 (connection exception),
# class 53 (insufficient resources: disk full, out of memory, too many connections) and
# 57P01-57P03 (shutting down, crashed, starting up).
_PG_UNAVAILABLE_CLASSES = ("08", "53")
_PG_UNAVAILABLE_STATES = frozenset({"57P01", "57P02", "57P03"})

# SQLite result codes (the primary code, the low byte) of a file that cannot be used:
# busy or locked past the busy timeout, out of memory, read-only, I/O error, disk full,
# cannot open. SQLITE_ERROR is left out: it is also "no such table", a bug.
_SQLITE_UNAVAILABLE_CODES = frozenset({5, 6, 7, 8, 10, 13, 14, 15})


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc`, the driver error a DBAPIError wraps, and the causes behind them."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, sa_exc.DBAPIError):
            pending.append(current.orig)
        pending.append(current.__cause__)


def _is_unavailable_cause(exc: BaseException) -> bool:
    if isinstance(exc, sa_exc.TimeoutError):
        # The pool waited pool_timeout for a connection: the database is not keeping up.
        return True
    if isinstance(exc, sa_exc.DBAPIError):
        return exc.connection_invalidated
    if isinstance(exc, OSError | TimeoutError):
        # Refused, reset, unreachable host, unknown name, connect timeout. Only reached
        # under a DBAPIError, so an OSError of the media storage is never taken for one.
        return True
    if isinstance(exc, asyncpg.InterfaceError):
        return "connection is closed" in str(exc)
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(exc, asyncpg.PostgresError) and isinstance(sqlstate, str):
        return sqlstate[:2] in _PG_UNAVAILABLE_CLASSES or sqlstate in _PG_UNAVAILABLE_STATES
    if isinstance(exc, sqlite3.Error):
        return exc.sqlite_errorcode & 0xFF in _SQLITE_UNAVAILABLE_CODES
    return False


def is_database_unavailable(exc: BaseException) -> bool:
    """True when `exc` says the database cannot be reached or cannot serve right now.

    This is the one place that decides it: the error handlers, /readyz and the worker
    all ask here. A database error that is not an outage (a constraint, a missing table)
    answers False.
    """
    if not isinstance(exc, DATABASE_ERRORS):
        return False
    return any(_is_unavailable_cause(cause) for cause in _chain(exc))


def cause_name(exc: BaseException) -> str:
    """The class name of the failure underneath SQLAlchemy's wrapping (for log lines)."""
    innermost = exc
    for cause in _chain(exc):
        innermost = cause
    # The asyncpg adapter's own Error class only relays the asyncpg error behind it.
    return type(innermost).__name__


class OutageTracker:
    """Logs one line when the database becomes unavailable and one when it is back.

    One per process (it lives in the Runtime). Failures are rare and may do work;
    successes are on every request's path, so `succeeded` is a single attribute check
    while the database is up. There is no lock: everything runs on one event loop.
    """

    def __init__(self, clock: Callable[[], datetime] = utcnow) -> None:
        self.down = False
        self._clock = clock
        self._since = clock()
        self._refused = 0

    def failed(self, exc: BaseException, *, refused_request: bool = False) -> None:
        """Note a failure that `is_database_unavailable`; the first of an outage is logged.

        `refused_request` counts a request answered 503 because of it.
        """
        if not self.down:
            self.down = True
            self._since = self._clock()
            self._refused = 0
            logger.error(
                "database unavailable since %s: %s",
                self._since.isoformat(timespec="seconds"),
                cause_name(exc),
            )
        if refused_request:
            self._refused += 1

    def succeeded(self) -> None:
        """Note that a database operation worked; ends the outage if there is one."""
        if self.down:
            self._recover()

    def _recover(self) -> None:
        self.down = False
        seconds = (self._clock() - self._since).total_seconds()
        logger.warning(
            "database available again after %.1f s, %d requests answered 503",
            seconds,
            self._refused,
        )

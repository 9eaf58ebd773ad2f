"""Which failures are a database outage, and the one log line at each end of an outage."""

from __future__ import annotations

import logging
import sqlite3
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from sqlalchemy import exc as sa_exc

from app.outage import OutageTracker, cause_name, is_database_unavailable

START = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def wrapped(orig: BaseException, cls: type[sa_exc.DBAPIError] = sa_exc.DBAPIError) -> Exception:
    """`orig` as SQLAlchemy raises it: a DBAPIError around the driver's error."""
    return cls(None, None, orig)


def connect_failure(cause: BaseException) -> Exception:
    """A failure to connect as the engine raises it: the driver error chained to a DB-API one."""
    dbapi_error = Exception(f"cannot connect: {type(cause).__name__}")
    dbapi_error.__cause__ = cause
    return wrapped(dbapi_error, sa_exc.OperationalError)


def sqlite_error(path: str, sql: str) -> sqlite3.Error:
    """A real error of SQLite, with its result code."""
    try:
        with sqlite3.connect(path) as connection:
            connection.execute(sql)
    except sqlite3.Error as exc:
        return exc
    raise AssertionError("no error")


# -- classification ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "failure",
    [
        connect_failure(ConnectionRefusedError(111, "Connect call failed")),
        connect_failure(TimeoutError()),
        connect_failure(OSError(113, "No route to host")),
        wrapped(asyncpg.CannotConnectNowError("the database system is starting up")),
        wrapped(asyncpg.AdminShutdownError("terminating connection due to administrator command")),
        wrapped(asyncpg.TooManyConnectionsError("sorry, too many clients already")),
        wrapped(asyncpg.InterfaceError("connection is closed"), sa_exc.InterfaceError),
        wrapped(asyncpg.ConnectionDoesNotExistError("connection was closed in the middle")),
        sa_exc.DBAPIError(None, None, Exception("gone"), connection_invalidated=True),
        sa_exc.TimeoutError("QueuePool limit of size 10 overflow 20 reached"),
        wrapped(sqlite_error("/nonexistent-dir/x.db", "SELECT 1"), sa_exc.OperationalError),
    ],
    ids=lambda failure: cause_name(failure),
)
def test_failures_to_reach_or_use_the_database_are_an_outage(failure: Exception) -> None:
    assert is_database_unavailable(failure)


@pytest.mark.parametrize(
    "failure",
    [
        wrapped(asyncpg.UniqueViolationError("duplicate key"), sa_exc.IntegrityError),
        wrapped(asyncpg.UndefinedTableError("relation does not exist"), sa_exc.ProgrammingError),
        wrapped(asyncpg.InterfaceError("another operation is in progress"), sa_exc.InterfaceError),
        wrapped(sqlite_error(":memory:", "SELECT * FROM missing"), sa_exc.OperationalError),
    ],
    ids=lambda failure: cause_name(failure),
)
def test_database_errors_of_the_request_itself_are_no_outage(failure: Exception) -> None:
    assert not is_database_unavailable(failure)


@pytest.mark.parametrize("failure", [ConnectionRefusedError(), TimeoutError(), OSError(28, "full")])
def test_errors_that_do_not_come_from_the_database_are_no_outage(failure: Exception) -> None:
    # Media storage and Meta's API raise these too; only the engine's say "database".
    assert not is_database_unavailable(failure)


def test_the_cause_named_is_the_one_underneath_the_wrapping() -> None:
    assert cause_name(connect_failure(ConnectionRefusedError())) == "ConnectionRefusedError"


# -- the tracker ------------------------------------------------------------------------


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def tracker(clock: FakeClock) -> OutageTracker:
    return OutageTracker(clock=clock)


REFUSED = connect_failure(ConnectionRefusedError(111, "Connect call failed"))


def lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "app.outage"]


def test_the_first_failure_logs_when_the_outage_started_and_why(
    tracker: OutageTracker, caplog: pytest.LogCaptureFixture
) -> None:
    tracker.failed(REFUSED)
    assert lines(caplog) == [
        "database unavailable since 2026-03-01T12:00:00+00:00: ConnectionRefusedError"
    ]
    assert caplog.records[0].levelno == logging.ERROR
    assert caplog.records[0].exc_info is None


def test_further_failures_of_the_same_outage_log_nothing(
    tracker: OutageTracker, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    tracker.failed(REFUSED)
    caplog.clear()
    for _ in range(50):
        clock.now += timedelta(seconds=1)
        tracker.failed(REFUSED, refused_request=True)
    assert lines(caplog) == []


def test_the_first_success_logs_how_long_it_lasted_and_how_many_requests_got_503(
    tracker: OutageTracker, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    tracker.failed(REFUSED)  # the worker's: no request refused
    for _ in range(3):
        tracker.failed(REFUSED, refused_request=True)
    clock.now += timedelta(seconds=42.5)
    caplog.clear()
    tracker.succeeded()
    tracker.succeeded()
    assert lines(caplog) == ["database available again after 42.5 s, 3 requests answered 503"]
    assert not tracker.down


def test_successes_while_the_database_is_up_log_nothing(
    tracker: OutageTracker, caplog: pytest.LogCaptureFixture
) -> None:
    tracker.succeeded()
    assert lines(caplog) == []
    assert not tracker.down


def test_a_later_outage_is_logged_again_with_its_own_count(
    tracker: OutageTracker, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    tracker.failed(REFUSED, refused_request=True)
    tracker.failed(REFUSED, refused_request=True)
    tracker.succeeded()
    clock.now += timedelta(minutes=5)
    caplog.clear()
    tracker.failed(REFUSED, refused_request=True)
    clock.now += timedelta(seconds=2)
    tracker.succeeded()
    assert lines(caplog) == [
        "database unavailable since 2026-03-01T12:05:00+00:00: ConnectionRefusedError",
        "database available again after 2.0 s, 1 requests answered 503",
    ]

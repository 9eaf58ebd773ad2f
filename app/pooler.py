"""PostgreSQL behind PgBouncer: what the asyncpg driver must stop doing there.

In transaction pooling mode PgBouncer hands each transaction to whichever server
connection is free, so a prepared statement that asyncpg (or SQLAlchemy) cached on one
server connection is missing, or taken by another client's statement of the same name,
on the next. Behind PgBouncer both statement caches are therefore off.

Two spellings turn this on: `DATABASE_POOLER=pgbouncer`, or in the URL `?pgbouncer=true`
(as Prisma and others spell it; removed before the URL reaches asyncpg, which would
refuse it) or SQLAlchemy's own `?prepared_statement_cache_size=0`.
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy.engine import URL

Pooler = Literal["none", "pgbouncer"]

URL_FLAG = "pgbouncer"
SQLALCHEMY_CACHE_PARAMETER = "prepared_statement_cache_size"
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})

# asyncpg's statement_cache_size=0 makes every statement the unnamed one, which the next
# statement replaces: nothing is left behind on a server connection, and no name can
# collide with another client's. (Named statements, even uniquely named, are closed only
# on the client's next statement, which may run on another server connection: the
# server connection PgBouncer used would keep them until it is closed.)
PGBOUNCER_CONNECT_ARGS: dict[str, Any] = {
    "statement_cache_size": 0,
    SQLALCHEMY_CACHE_PARAMETER: 0,
}


class InvalidPoolerFlag(ValueError):
    """The URL's `pgbouncer=` parameter is neither true nor false."""


def url_flag(url: URL) -> bool | None:
    """The URL's `pgbouncer=` parameter: True, False, or None when it is absent."""
    value = url.query.get(URL_FLAG)
    if value is None:
        return None
    if isinstance(value, tuple):
        value = value[-1]
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise InvalidPoolerFlag(f"pgbouncer={value!r} in the database URL must be true or false")


def behind_pgbouncer(url: URL, pooler: Pooler) -> bool:
    """True when the connection goes through PgBouncer, by the setting or the URL."""
    if not url.drivername.startswith("postgresql"):
        return False
    if pooler == "pgbouncer" or url_flag(url):
        return True
    return url.query.get(SQLALCHEMY_CACHE_PARAMETER) == "0"


def without_flag(url: URL) -> URL:
    """`url` without the `pgbouncer=` parameter, which only this service understands."""
    return url.difference_update_query([URL_FLAG])

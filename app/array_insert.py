"""INSERT from arrays on PostgreSQL: one statement text, whatever the number of rows.

A multi-row VALUES list is a new statement for every number of rows: SQLAlchemy renders
it anew, and PostgreSQL parses and plans it anew. Passing each column as one array
(`INSERT … SELECT * FROM unnest(…)`) keeps the text constant, so it is compiled once and
prepared once per connection, and asyncpg encodes the arrays in C. Rows are inserted in
the order given, which keeps the lock order the caller chose.

A column of text goes as one string, its values joined by a control character that
PostgreSQL splits again (`string_to_array`): asyncpg checks every element of an array
parameter against the collection ABCs before encoding it, which cost four times as much
as the encoding itself. A column whose values cannot be joined safely (one holds the
separator, say) goes as an array, in the same statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    TextClause,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import TypeDecorator, TypeEngine

from app.db import json_text, with_utc_zone

# The ASCII record separator between a column's values, and the unit separator standing
# alone for NULL. JSON text never holds either unescaped; a message's text may.
_SEPARATOR = "\x1e"
_NULL = "\x1f"
_TEXT_TYPES = ("json", "text", "varchar")


def _joined(values: list[Any]) -> str | None:
    """`values` (strings or None) as one string that string_to_array splits back into
    them, or None when it cannot: a value holds the separator or is the NULL mark alone,
    is not a string, or is the one value and empty (which would split into no value)."""
    try:
        joined = _SEPARATOR.join([_NULL if v is None else v for v in values])
    except TypeError:
        return None
    if joined.count(_SEPARATOR) != len(values) - 1 or joined == "" or _NULL in values:
        return None
    return joined


def _column_sql(i: int, sql_type: str) -> str:
    """The array of column `i`: from its joined string :s{i} or, failing that, from the
    array :c{i}."""
    if sql_type not in _TEXT_TYPES:
        return f"CAST(:c{i} AS {sql_type}[])"
    split = f"string_to_array(CAST(:s{i} AS text), E'\\x1e', E'\\x1f')"
    return f"CAST(COALESCE({split}, CAST(:c{i} AS text[])) AS {sql_type}[])"


def _sql_type(column_type: TypeEngine[Any]) -> str:
    """The PostgreSQL name of a column's type, for the cast of its array."""
    if isinstance(column_type, TypeDecorator):
        column_type = column_type.impl_instance
    for kind, name in (
        (JSON, "json"),
        (BigInteger, "bigint"),
        (Integer, "integer"),
        (Float, "double precision"),
        (LargeBinary, "bytea"),
        (DateTime, "timestamptz"),
        (Text, "text"),
        (String, "varchar"),
    ):
        if isinstance(column_type, kind):
            return name
    raise TypeError(f"no array type for {column_type!r}")


class ArrayInsert:
    """An INSERT of many rows into `table` from one array per column (PostgreSQL only).

    `on_conflict` is the SQL after ON CONFLICT (e.g. "(message_id) DO NOTHING"), and
    `returning` the columns to return. `first` is a query of one row that runs before the
    first row is inserted (a lock to take, say). Values are given as dicts by column name.
    """

    def __init__(
        self,
        table: Table,
        columns: Sequence[str],
        *,
        on_conflict: str | None = None,
        returning: Sequence[str] = (),
        first: str | None = None,
    ) -> None:
        self.columns = list(columns)
        types = [_sql_type(table.c[name].type) for name in columns]
        self._json = {name for name, t in zip(columns, types, strict=True) if t == "json"}
        self._times = {name for name, t in zip(columns, types, strict=True) if t == "timestamptz"}
        self._texts = {name for name, t in zip(columns, types, strict=True) if t in _TEXT_TYPES}
        casts = ", ".join(_column_sql(i, t) for i, t in enumerate(types))
        sql = (
            f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT u.* FROM unnest({casts}) AS u"
        )
        if first:
            # A one-row query the INSERT is joined with: it runs before any row is made.
            sql = f"WITH first AS MATERIALIZED ({first}) {sql} CROSS JOIN first"
        if on_conflict:
            sql += f" ON CONFLICT {on_conflict}"
        if returning:
            sql += f" RETURNING {', '.join(returning)}"
        # The SQL alone, for a statement that runs this INSERT inside a larger one.
        self.sql = sql
        self.statement: TextClause = text(sql)

    def parameters(
        self, rows: Sequence[dict[str, Any]], defaults: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The statement's parameters for `rows`, a column a row lacks taken from
        `defaults` (else NULL); JSON values are serialised, times without a zone are UTC,
        and None stays NULL."""
        defaults = defaults or {}
        arrays: dict[str, Any] = {}
        for i, name in enumerate(self.columns):
            default = defaults.get(name)
            values = [row.get(name, default) for row in rows]
            if name in self._json:
                values = [None if v is None else json_text(v) for v in values]
            elif name in self._times:
                values = [None if v is None else with_utc_zone(v) for v in values]
            if name in self._texts:
                joined = _joined(values)
                arrays[f"s{i}"] = joined
                arrays[f"c{i}"] = values if joined is None else None
            else:
                arrays[f"c{i}"] = values
        return arrays

    async def execute(
        self,
        session: AsyncSession,
        rows: Sequence[dict[str, Any]],
        defaults: dict[str, Any] | None = None,
    ) -> Any:
        """Insert `rows` in one statement and return the result (for RETURNING)."""
        return await session.execute(self.statement, self.parameters(rows, defaults))

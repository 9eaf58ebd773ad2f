"""Rows inserted from arrays come back exactly as given, whatever their text holds
(PostgreSQL: SQLite takes rows as they are)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import JSON, Column, Integer, MetaData, String, Table, Text, select

from app.array_insert import ArrayInsert
from app.runtime import Runtime

# Arrays are PostgreSQL's.
ON_POSTGRESQL = pytest.mark.parametrize("backend", ["postgresql"])

_metadata = MetaData()
_samples = Table(
    "array_insert_samples",
    _metadata,
    Column("n", Integer, primary_key=True),
    Column("label", String(64)),
    Column("body", Text),
    Column("data", JSON),
)
_INSERT = ArrayInsert(_samples, ["n", "label", "body", "data"])


@pytest.fixture
async def samples(runtime: Runtime) -> AsyncIterator[Table]:
    async with runtime.engine.begin() as connection:
        await connection.run_sync(_metadata.create_all)
    yield _samples
    async with runtime.engine.begin() as connection:
        await connection.run_sync(_metadata.drop_all)


async def _round_trip(runtime: Runtime, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    async with runtime.sessions() as session:
        await _INSERT.execute(session, rows)
        await session.commit()
        result = await session.execute(select(_samples).order_by(_samples.c.n))
        return [dict(row._mapping) for row in result]


@ON_POSTGRESQL
async def test_text_holding_the_separators_comes_back_unchanged(
    runtime: Runtime, samples: Table
) -> None:
    rows: list[dict[str, Any]] = [
        {"n": 1, "label": "plain", "body": "a\x1eb", "data": {"k": "\x1e\x1f"}},
        {"n": 2, "label": None, "body": "\x1f", "data": None},
        {"n": 3, "label": "", "body": "", "data": []},
    ]
    assert await _round_trip(runtime, rows) == rows


@ON_POSTGRESQL
async def test_a_single_empty_string_is_one_row_with_an_empty_string(
    runtime: Runtime, samples: Table
) -> None:
    rows: list[dict[str, Any]] = [{"n": 1, "label": "", "body": "", "data": ""}]
    assert await _round_trip(runtime, rows) == rows


@ON_POSTGRESQL
async def test_nulls_and_strings_keep_their_rows(runtime: Runtime, samples: Table) -> None:
    rows: list[dict[str, Any]] = [
        {"n": n, "label": None if n % 2 else f"l{n}", "body": f"b{n}" if n % 3 else None}
        for n in range(1, 8)
    ]
    stored = await _round_trip(runtime, rows)
    assert stored == [{**row, "data": None} for row in rows]


def test_plain_text_goes_as_one_joined_string() -> None:
    parameters = _INSERT.parameters([{"n": 1, "label": "a"}, {"n": 2, "label": None}])
    label = _INSERT.columns.index("label")
    assert parameters[f"s{label}"] == "a\x1e\x1f"
    assert parameters[f"c{label}"] is None


def test_text_holding_the_separator_goes_as_an_array() -> None:
    parameters = _INSERT.parameters([{"n": 1, "label": "a\x1eb"}])
    label = _INSERT.columns.index("label")
    assert parameters[f"s{label}"] is None
    assert parameters[f"c{label}"] == ["a\x1eb"]

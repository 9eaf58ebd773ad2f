"""Splitting long lists of rows or keys into statements of bounded size."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")

# Rows per statement: far below PostgreSQL's 32,767 bind parameters for the widest table,
# and short enough that building one statement's parameters never holds the event loop
# for long.
ROWS_PER_STATEMENT = 500


def chunks(items: Sequence[T], size: int = ROWS_PER_STATEMENT) -> Iterator[Sequence[T]]:
    """`items` in consecutive slices of at most `size`, in order."""
    for start in range(0, len(items), size):
        yield items[start : start + size]

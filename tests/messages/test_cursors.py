"""Keyset cursors: opaque, bound to their list, and refused when edited."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from app.pagination import Cursor, InvalidCursor, decode_cursor, encode_cursor, paginate

MOMENT = datetime(2024, 1, 15, 10, 30, 0, 123456, tzinfo=UTC)


def token(data: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


@pytest.mark.parametrize("cursor", [Cursor(MOMENT, 4213), Cursor(None, 7)])
def test_cursor_survives_a_round_trip_to_the_microsecond(cursor: Cursor) -> None:
    assert decode_cursor("messages", encode_cursor("messages", cursor)) == cursor


def test_cursor_is_url_safe() -> None:
    encoded = encode_cursor("messages", Cursor(MOMENT, 4213))

    assert encoded.replace("-", "").replace("_", "").isalnum()


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "%%%",
        token(["messages", 1]),
        token({"l": "conversations", "t": None, "i": 1}),
        token({"l": "messages", "t": None, "i": 0}),
        token({"l": "messages", "t": None, "i": "1"}),
        token({"l": "messages", "t": None, "i": True}),
        token({"l": "messages", "t": "yesterday", "i": 1}),
        token({"l": "messages", "t": "2024-01-15T10:30:00", "i": 1}),
        token({"l": "messages", "t": 1705314600, "i": 1}),
    ],
)
def test_cursor_not_made_for_this_list_is_refused(bad: str) -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor("messages", bad)


def test_page_with_a_row_beyond_it_carries_the_cursor_of_its_last_row() -> None:
    rows = [Cursor(MOMENT, 3), Cursor(MOMENT, 2), Cursor(MOMENT, 1)]

    page = paginate(rows, 2, "messages", lambda row: row)

    assert page.items == rows[:2]
    assert page.next_cursor is not None
    assert decode_cursor("messages", page.next_cursor) == Cursor(MOMENT, 2)


def test_page_without_a_row_beyond_it_is_the_last() -> None:
    rows = [Cursor(MOMENT, 2), Cursor(MOMENT, 1)]

    assert paginate(rows, 2, "messages", lambda row: row).next_cursor is None

"""Keyset cursors: opaque, bound to their list and its filters, and refused when edited."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from app.conversations.schemas import ConversationListParams
from app.jobs.schemas import JobListParams
from app.messages.schemas import MessageListParams
from app.models import MAX_ID
from app.pagination import (
    MAX_CURSOR_LENGTH,
    Cursor,
    InvalidCursor,
    PageParams,
    decode_cursor,
    encode_cursor,
    page_start,
    paginate,
)

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

    page = paginate(rows, MessageListParams(limit=2), "messages", lambda row: row)

    assert page.items == rows[:2]
    assert page.next_cursor is not None
    assert decode_cursor("messages", page.next_cursor) == Cursor(MOMENT, 2)


def test_page_without_a_row_beyond_it_is_the_last() -> None:
    rows = [Cursor(MOMENT, 2), Cursor(MOMENT, 1)]

    assert (
        paginate(rows, MessageListParams(limit=2), "messages", lambda row: row).next_cursor is None
    )


def messages(**query: Any) -> MessageListParams:
    """The message list's parameters as FastAPI reads them from a query string."""
    return MessageListParams.model_validate(query)


def next_cursor(params: PageParams, list_name: str = "messages") -> str:
    """The cursor of a page of the list asked for with `params`, after row 2."""
    rows = [Cursor(MOMENT, 3), Cursor(MOMENT, 2), Cursor(MOMENT, 1)]
    cursor = paginate(rows[: params.limit + 1], params, list_name, lambda row: row).next_cursor
    assert cursor is not None
    return cursor


def test_cursor_alone_brings_back_the_filters_it_was_made_with() -> None:
    cursor = next_cursor(
        messages(phone="+91 98765-43210", since="2024-01-15T16:00:00+05:30", limit=2)
    )

    start = page_start("messages", messages(cursor=cursor, limit=5))

    assert start.params.phone == "919876543210"
    assert start.params.since == datetime(2024, 1, 15, 10, 30, tzinfo=UTC)
    assert start.params.limit == 5
    assert start.after == Cursor(MOMENT, 2)


def test_next_cursor_of_a_page_asked_for_by_cursor_alone_keeps_the_filters() -> None:
    first = next_cursor(messages(q="order", limit=2))
    second = next_cursor(page_start("messages", messages(cursor=first, limit=2)).params)

    assert page_start("messages", messages(cursor=second)).params.q == "order"


def test_cursor_with_the_same_filters_starts_after_its_row() -> None:
    cursor = next_cursor(messages(phone="919876543210", limit=2))

    start = page_start("messages", messages(cursor=cursor, phone="0091 98765 43210"))

    assert start.after == Cursor(MOMENT, 2)


def test_cursor_with_other_filters_is_refused_naming_them() -> None:
    cursor = next_cursor(messages(phone="919876543210", limit=2))

    with pytest.raises(InvalidCursor, match=r"made with \(phone, type\)"):
        page_start("messages", messages(cursor=cursor, phone="447700900123", type="text"))


def test_cursor_of_an_unfiltered_list_carries_no_filters() -> None:
    # The same token as before cursors carried filters, so those handed out still work.
    assert next_cursor(messages(limit=2)) == encode_cursor("messages", Cursor(MOMENT, 2))


@pytest.mark.parametrize(
    "longest",
    [
        # Control characters are the longest in JSON (`\u0001`, six bytes each).
        messages(
            phone="+123456789012345",
            type="\x01" * 32,
            direction="out",
            status="delivered",
            since="2024-01-15T10:30:00.123456Z",
            until="9999-12-31T23:59:59.999999Z",
            q="\x01" * 200,
            conversation=MAX_ID,
        ),
        ConversationListParams.model_validate({"unread": False, "q": "\x01" * 100}),
        JobListParams.model_validate({"state": "queued", "kind": "\x01" * 64}),
    ],
    ids=["messages", "conversations", "jobs"],
)
def test_cursor_with_the_longest_filters_fits_the_cursor_parameter(longest: PageParams) -> None:
    # The longest list name, the longest timestamp and the largest id.
    position = Cursor(datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), MAX_ID)

    cursor = encode_cursor("conversations", position, longest.filters())

    assert len(cursor) <= MAX_CURSOR_LENGTH


@pytest.mark.parametrize(
    "filters",
    [
        {"phone": "12"},  # not a number
        {"phone": "+91 98765-43210"},  # not normalised: this list never wrote it
        {"since": "2024-01-16T00:00:00Z", "until": "2024-01-15T00:00:00Z"},
        {"colour": "red"},  # not a filter of this list
        {"limit": 200},  # paging, not a filter
        {"cursor": "x"},
        ["phone"],
    ],
)
def test_cursor_with_edited_filters_is_refused(filters: object) -> None:
    edited = token({"l": "messages", "t": None, "i": 5, "f": filters})

    with pytest.raises(InvalidCursor, match="pass the next_cursor of a previous page unchanged"):
        page_start("messages", messages(cursor=edited))


def test_cursor_with_filters_is_refused_where_a_list_has_none() -> None:
    cursor = encode_cursor("admin-thread", Cursor(MOMENT, 2), {"phone": "919876543210"})

    with pytest.raises(InvalidCursor):
        decode_cursor("admin-thread", cursor)

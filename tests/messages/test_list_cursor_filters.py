"""GET /api/whatsapp/messages/: a page's cursor carries the filters of its list."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.models import Direction, MessageStatus
from app.runtime import Runtime
from tests.messages.store import CUSTOMER, at, store_message
from tests.support.pages import follow_pages

URL = "/api/whatsapp/messages/"
OTHER_CUSTOMER = "447700900123"


async def pages_by_cursor_alone(api: httpx.AsyncClient, **params: Any) -> list[str]:
    """Every wamid of the list, one per page, later pages asked for by their cursor alone."""
    return await follow_pages(
        api, URL, "messages", "message_id", resend_filters=False, limit=1, **params
    )


async def first_cursor(api: httpx.AsyncClient, **params: Any) -> str:
    """The next_cursor of the first one-message page of the list with `params`."""
    body = (await api.get(URL, params={"limit": 1, **params})).json()
    cursor: str = body["next_cursor"]
    assert cursor is not None
    return cursor


async def store_alternating(
    runtime: Runtime, matching: dict[str, Any], other: dict[str, Any]
) -> None:
    """Six messages, a minute apart: odd minutes with `matching` columns, even with `other`."""
    for minute in range(6):
        columns = matching if minute % 2 else other
        await store_message(runtime, f"wamid.{minute}", timestamp=at(minute), **columns)


# Each case: a filter, the columns of the messages it keeps, and of those it leaves out.
FILTERS = {
    "phone": ({"phone": "+91 98765-43210"}, {"customer": CUSTOMER}, {"customer": OTHER_CUSTOMER}),
    "type": ({"type": "image"}, {"message_type": "image"}, {}),
    "direction": ({"direction": "out"}, {"direction": Direction.OUTBOUND}, {}),
    "status": ({"status": "read"}, {"status": MessageStatus.READ}, {}),
    "q": ({"q": "ORDER"}, {"text_body": "my order"}, {"text_body": "hello"}),
}


@pytest.mark.parametrize(("params", "matching", "other"), FILTERS.values(), ids=FILTERS.keys())
async def test_cursor_alone_keeps_the_filter_of_the_first_page(
    api: httpx.AsyncClient,
    runtime: Runtime,
    params: dict[str, Any],
    matching: dict[str, Any],
    other: dict[str, Any],
) -> None:
    await store_alternating(runtime, matching, other)

    assert await pages_by_cursor_alone(api, **params) == ["wamid.5", "wamid.3", "wamid.1"]


async def test_cursor_alone_keeps_the_time_window_of_the_first_page(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    await store_alternating(runtime, {}, {})

    window = {"since": at(1).isoformat(), "until": at(4).isoformat()}

    assert await pages_by_cursor_alone(api, **window) == ["wamid.3", "wamid.2", "wamid.1"]


async def test_cursor_alone_keeps_the_conversation_of_the_first_page(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    await store_alternating(runtime, {"customer": CUSTOMER}, {"customer": OTHER_CUSTOMER})
    mine = await store_message(runtime, "wamid.6", timestamp=at(-1), customer=CUSTOMER)

    assert await pages_by_cursor_alone(api, conversation=mine) == [
        "wamid.5",
        "wamid.3",
        "wamid.1",
        "wamid.6",
    ]


async def test_cursor_alone_keeps_every_filter_combined(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    await store_alternating(runtime, {"message_type": "image"}, {})
    await store_message(
        runtime, "wamid.elsewhere", timestamp=at(3.5), message_type="image", customer=OTHER_CUSTOMER
    )

    listed = await pages_by_cursor_alone(api, phone=CUSTOMER, type="image", since=at(2).isoformat())

    assert listed == ["wamid.5", "wamid.3"]


async def test_cursor_with_the_same_filters_written_another_way_is_accepted(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    await store_alternating(runtime, {"customer": CUSTOMER}, {"customer": OTHER_CUSTOMER})
    cursor = await first_cursor(api, phone=CUSTOMER)

    response = await api.get(URL, params={"cursor": cursor, "phone": "0091 98765 43210"})

    assert response.status_code == 200
    assert [m["message_id"] for m in response.json()["messages"]] == ["wamid.3", "wamid.1"]


async def test_limit_may_change_from_page_to_page(api: httpx.AsyncClient, runtime: Runtime) -> None:
    await store_alternating(runtime, {"customer": CUSTOMER}, {"customer": OTHER_CUSTOMER})
    cursor = await first_cursor(api, phone=CUSTOMER)

    response = await api.get(URL, params={"cursor": cursor, "limit": 2})

    assert [m["message_id"] for m in response.json()["messages"]] == ["wamid.3", "wamid.1"]


@pytest.mark.parametrize(
    ("made_with", "sent_with", "named"),
    [
        ({"phone": CUSTOMER}, {"phone": OTHER_CUSTOMER}, "phone"),
        ({"phone": CUSTOMER}, {"type": "text"}, "phone, type"),
        ({}, {"direction": "in"}, "direction"),
        ({"phone": CUSTOMER, "q": "order"}, {"phone": CUSTOMER}, "q"),
    ],
)
async def test_cursor_sent_with_other_filters_is_refused_saying_which(
    api: httpx.AsyncClient,
    runtime: Runtime,
    made_with: dict[str, Any],
    sent_with: dict[str, Any],
    named: str,
) -> None:
    await store_alternating(runtime, {"text_body": "an order"}, {"text_body": "an order"})
    cursor = await first_cursor(api, **made_with)

    response = await api.get(URL, params={"cursor": cursor, **sent_with})

    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid_cursor"
    assert "filters differ from the ones the cursor was made with" in body["detail"]
    assert f"({named})" in body["detail"]

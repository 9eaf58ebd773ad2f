"""GET /api/whatsapp/conversations/ and GET/PATCH /api/whatsapp/conversations/{id}."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Conversation
from app.runtime import Runtime
from tests.conftest import PHONE_NUMBER_ID
from tests.messages.store import CUSTOMER, at, store_conversation, store_message
from tests.support.pages import follow_pages

URL = "/api/whatsapp/conversations/"


def ids(body: dict[str, Any]) -> list[int]:
    return [c["id"] for c in body["conversations"]]


async def list_all(api: httpx.AsyncClient, **params: Any) -> list[int]:
    """Every conversation id the list returns, following next_cursor page after page."""
    return await follow_pages(api, URL, "conversations", "id", **params)


async def customer_at(runtime: Runtime, number: str, minute: float, **columns: Any) -> int:
    """A conversation whose last message came at `minute`."""
    return await store_message(
        runtime, f"wamid.{number}.{minute}", timestamp=at(minute), customer=number, **columns
    )


async def test_conversations_come_latest_activity_first_and_empty_ones_last(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    empty_old = await store_conversation(runtime, "15550000001")
    quiet = await customer_at(runtime, "15550000002", 0)
    busy = await customer_at(runtime, "15550000003", 1)
    empty_new = await store_conversation(runtime, "15550000004")
    await customer_at(runtime, "15550000002", 2)

    response = await api.get(URL)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 4
    assert ids(body) == [quiet, busy, empty_new, empty_old]
    assert body["next_cursor"] is None


async def test_conversation_shows_its_counters_and_customer(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    conversation_id = await customer_at(runtime, CUSTOMER, 0)
    await customer_at(runtime, CUSTOMER, 3)

    response = await api.get(f"{URL}{conversation_id}")

    assert response.status_code == 200
    assert response.json() | {"created_at": None, "updated_at": None} == {
        "id": conversation_id,
        "phone_number_id": PHONE_NUMBER_ID,
        "phone_number": CUSTOMER,
        "user_id": None,
        "contact_name": "John Doe",
        "notes": "",
        "message_count": 2,
        "unread_count": 2,
        "call_count": 0,
        "business_number": None,
        "business_label": None,
        "last_message_at": "2024-01-15T10:33:00Z",
        "last_inbound_at": "2024-01-15T10:33:00Z",
        "created_at": None,
        "updated_at": None,
        "calls": [],
    }


async def test_unread_filter_splits_conversations_by_unread_messages(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    waiting = await customer_at(runtime, "15550000001", 0)
    answered = await customer_at(runtime, "15550000002", 1)
    await api.post("/api/whatsapp/mark-read/", json={"conversation_id": answered})

    only_unread = await api.get(URL, params={"unread": "true"})
    only_read = await api.get(URL, params={"unread": "false"})

    assert ids(only_unread.json()) == [waiting]
    assert ids(only_read.json()) == [answered]


async def test_q_finds_a_contact_name_ignoring_case(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    john = await customer_at(runtime, "15550000001", 0, contact_name="John Doe")
    await customer_at(runtime, "15550000002", 1, contact_name="Asha Rao")

    response = await api.get(URL, params={"q": "jOHN"})

    assert ids(response.json()) == [john]


async def test_q_finds_a_number_written_with_separators(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    mine = await customer_at(runtime, CUSTOMER, 0)
    await customer_at(runtime, "447700900123", 1)

    response = await api.get(URL, params={"q": "+91 98765"})

    assert ids(response.json()) == [mine]


async def test_q_matches_like_wildcards_literally(api: httpx.AsyncClient, runtime: Runtime) -> None:
    literal = await customer_at(runtime, "15550000001", 0, contact_name="Shop_1")
    await customer_at(runtime, "15550000002", 1, contact_name="Shop21")

    response = await api.get(URL, params={"q": "p_1"})

    assert ids(response.json()) == [literal]


async def test_pages_cover_every_conversation_once_including_empty_ones(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    first_empty = await store_conversation(runtime, "15550000001")
    older = await customer_at(runtime, "15550000002", 0)
    tied_a = await customer_at(runtime, "15550000003", 5)
    tied_b = await customer_at(runtime, "15550000004", 5)
    second_empty = await store_conversation(runtime, "15550000005")

    for limit in (1, 2, 3):
        assert await list_all(api, limit=limit) == [
            tied_b,
            tied_a,
            older,
            second_empty,
            first_empty,
        ]


async def test_new_conversation_between_pages_does_not_shift_the_next_page(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    conversations = [await customer_at(runtime, f"1555000000{n}", n) for n in range(4)]
    first = (await api.get(URL, params={"limit": 2})).json()

    await customer_at(runtime, "15550000009", 10)
    second = (await api.get(URL, params={"limit": 2, "cursor": first["next_cursor"]})).json()

    assert ids(first) == [conversations[3], conversations[2]]
    assert ids(second) == [conversations[1], conversations[0]]


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"limit": 201}, "limit"),
        ({"limit": 0}, "limit"),
        ({"unread": "maybe"}, "unread"),
        ({"q": ""}, "q"),
        ({"cursor": "garbage"}, "cursor"),
        # A cursor of the message list is not one of the conversation list.
        ({"cursor": "eyJsIjoibWVzc2FnZXMiLCJ0IjpudWxsLCJpIjoxfQ"}, "cursor"),
    ],
)
async def test_bad_parameter_is_rejected_naming_it(
    api: httpx.AsyncClient, params: dict[str, Any], named: str
) -> None:
    response = await api.get(URL, params=params)

    assert response.status_code == 422
    assert named in response.json()["detail"]


async def test_unknown_conversation_is_404(api: httpx.AsyncClient) -> None:
    response = await api.get(f"{URL}424242")

    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "detail": "no conversation with id 424242"}


async def test_conversation_id_that_is_not_a_number_is_422(api: httpx.AsyncClient) -> None:
    response = await api.get(f"{URL}john")

    assert response.status_code == 422
    assert "conversation_id" in response.json()["detail"]


async def test_patch_replaces_the_notes(
    api: httpx.AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    conversation_id = await customer_at(runtime, CUSTOMER, 0)

    response = await api.patch(f"{URL}{conversation_id}", json={"notes": "Prefers English"})

    assert response.status_code == 200
    assert response.json()["notes"] == "Prefers English"
    stored = await session.get(Conversation, conversation_id)
    assert stored is not None
    assert stored.notes == "Prefers English"


async def test_patch_of_unknown_conversation_is_404(api: httpx.AsyncClient) -> None:
    response = await api.patch(f"{URL}424242", json={"notes": "x"})

    assert response.status_code == 404


@pytest.mark.parametrize("body", [{"notes": "x", "unread_count": 0}, {"contact_name": "Eve"}, {}])
async def test_patch_of_anything_but_notes_is_rejected_and_changes_nothing(
    api: httpx.AsyncClient, runtime: Runtime, session: AsyncSession, body: dict[str, Any]
) -> None:
    conversation_id = await customer_at(runtime, CUSTOMER, 0)

    response = await api.patch(f"{URL}{conversation_id}", json=body)

    assert response.status_code == 422
    stored = await session.scalar(select(Conversation).where(Conversation.id == conversation_id))
    assert stored is not None
    assert (stored.notes, stored.unread_count, stored.contact_name) == ("", 1, "John Doe")


async def first_cursor(api: httpx.AsyncClient, **params: Any) -> str:
    """The next_cursor of the first one-conversation page of the list with `params`."""
    cursor: str = (await api.get(URL, params={"limit": 1, **params})).json()["next_cursor"]
    assert cursor is not None
    return cursor


async def johns_and_ashas(runtime: Runtime) -> list[int]:
    """Six conversations, latest first, alternating John's (first) and Asha's."""
    created = []
    for n in range(6):
        name = "John Doe" if n % 2 else "Asha Rao"
        created.append(await customer_at(runtime, f"1555000000{n}", n, contact_name=name))
    return created[::-1]


async def test_cursor_alone_keeps_the_search_of_the_first_page(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    latest_first = await johns_and_ashas(runtime)

    listed = await list_all(api, q="john", limit=1, resend_filters=False)

    assert listed == latest_first[0::2]


async def test_cursor_alone_keeps_the_unread_filter_of_the_first_page(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    latest_first = await johns_and_ashas(runtime)
    for answered in latest_first[1::2]:
        await api.post("/api/whatsapp/mark-read/", json={"conversation_id": answered})

    listed = await list_all(api, unread="false", limit=1, resend_filters=False)

    assert listed == latest_first[1::2]


async def test_cursor_with_the_same_filters_is_accepted(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    latest_first = await johns_and_ashas(runtime)

    listed = await list_all(api, q="john", unread="true", limit=1)

    assert listed == latest_first[0::2]


@pytest.mark.parametrize(
    ("made_with", "sent_with", "named"),
    [
        ({"q": "john"}, {"q": "asha"}, "q"),
        ({"unread": "true"}, {"unread": "false"}, "unread"),
        ({}, {"unread": "true"}, "unread"),
        ({"q": "john", "unread": "true"}, {"q": "john"}, "unread"),
    ],
)
async def test_cursor_sent_with_other_filters_is_refused_saying_which(
    api: httpx.AsyncClient,
    runtime: Runtime,
    made_with: dict[str, Any],
    sent_with: dict[str, Any],
    named: str,
) -> None:
    await johns_and_ashas(runtime)
    cursor = await first_cursor(api, **made_with)

    response = await api.get(URL, params={"cursor": cursor, **sent_with})

    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid_cursor"
    assert "filters differ from the ones the cursor was made with" in body["detail"]
    assert f"({named})" in body["detail"]

"""GET /api/whatsapp/messages/: filters, newest-first keyset pagination, parameter errors."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import delete

from app.conversations.repository import ConversationRepository
from app.models import Conversation, Direction
from app.runtime import Runtime
from tests.conftest import PHONE_NUMBER_ID
from tests.messages.store import CUSTOMER, at, store_message
from tests.support.pages import follow_pages

URL = "/api/whatsapp/messages/"
OTHER_CUSTOMER = "447700900123"


def wamids(body: dict[str, Any]) -> list[str]:
    return [m["message_id"] for m in body["messages"]]


async def list_all(api: httpx.AsyncClient, **params: Any) -> list[str]:
    """Every wamid the list returns, following next_cursor page after page."""
    return await follow_pages(api, URL, "messages", "message_id", **params)


async def test_seed_client_phone_filter_returns_that_customers_messages(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    await store_message(runtime, "wamid.mine", timestamp=at(0), text_body="Hi")
    await store_message(runtime, "wamid.other", timestamp=at(1), customer=OTHER_CUSTOMER)

    response = await api.get("/api/whatsapp/messages/?phone=919876543210")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    assert wamids(body) == ["wamid.mine"]
    assert body["messages"][0]["text_body"] == "Hi"
    assert body["next_cursor"] is None


@pytest.mark.parametrize(
    "written", ["+91 98765-43210", "0091 98765 43210", "(91) 98765.43210", "919876543210"]
)
async def test_phone_filter_accepts_any_way_of_writing_the_number(
    api: httpx.AsyncClient, runtime: Runtime, written: str
) -> None:
    await store_message(runtime, "wamid.mine", timestamp=at(0))
    await store_message(runtime, "wamid.other", timestamp=at(1), customer=OTHER_CUSTOMER)

    response = await api.get(URL, params={"phone": written})

    assert wamids(response.json()) == ["wamid.mine"]


async def test_phone_filter_finds_messages_sent_to_the_customer(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    await store_message(runtime, "wamid.in", timestamp=at(0))
    await store_message(runtime, "wamid.out", timestamp=at(1), direction=Direction.OUTBOUND)
    await store_message(runtime, "wamid.other", timestamp=at(2), customer=OTHER_CUSTOMER)

    response = await api.get(URL, params={"phone": "+91 98765 43210"})

    assert wamids(response.json()) == ["wamid.out", "wamid.in"]


async def test_phone_filter_finds_messages_to_the_customer_outside_any_conversation(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    conversation_id = await store_message(
        runtime, "wamid.out", timestamp=at(0), direction=Direction.OUTBOUND
    )
    async with runtime.sessions() as session:
        await session.execute(delete(Conversation).where(Conversation.id == conversation_id))
        await session.commit()

    response = await api.get(URL, params={"phone": CUSTOMER})

    assert [(m["message_id"], m["conversation_id"]) for m in response.json()["messages"]] == [
        ("wamid.out", None)
    ]


async def test_phone_filter_finds_messages_of_the_customers_conversation(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    # A customer known first only by user id (number withheld), whose number Meta sends later.
    await store_message(
        runtime, "wamid.by-user-id", timestamp=at(0), customer=None, user_id="IN.1234567890"
    )
    async with runtime.sessions() as session:
        await ConversationRepository(session).upsert_customer(
            phone_number_id=PHONE_NUMBER_ID,
            phone_number=CUSTOMER,
            user_id="IN.1234567890",
            contact_name=None,
        )
        await session.commit()

    response = await api.get(URL, params={"phone": CUSTOMER})

    assert wamids(response.json()) == ["wamid.by-user-id"]


async def test_type_filter_keeps_only_that_message_type(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    await store_message(runtime, "wamid.text", timestamp=at(0))
    await store_message(runtime, "wamid.image", timestamp=at(1), message_type="image")

    response = await api.get(URL, params={"type": "image"})

    assert wamids(response.json()) == ["wamid.image"]


async def test_direction_filter_keeps_only_that_direction(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    await store_message(runtime, "wamid.in", timestamp=at(0))
    await store_message(runtime, "wamid.out", timestamp=at(1), direction=Direction.OUTBOUND)

    inbound = await api.get(URL, params={"direction": "in"})
    outbound = await api.get(URL, params={"direction": "out"})

    assert wamids(inbound.json()) == ["wamid.in"]
    assert wamids(outbound.json()) == ["wamid.out"]


async def test_status_filter_keeps_only_that_status(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    await store_message(runtime, "wamid.unread", timestamp=at(0))
    await store_message(runtime, "wamid.read", timestamp=at(1), status="read")

    response = await api.get(URL, params={"status": "received"})

    assert wamids(response.json()) == ["wamid.unread"]


async def test_since_is_inclusive_and_until_exclusive(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    for minute in range(4):
        await store_message(runtime, f"wamid.{minute}", timestamp=at(minute))

    response = await api.get(URL, params={"since": at(1).isoformat(), "until": at(3).isoformat()})

    assert wamids(response.json()) == ["wamid.2", "wamid.1"]


async def test_since_without_offset_is_read_as_utc(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    await store_message(runtime, "wamid.before", timestamp=at(0))
    await store_message(runtime, "wamid.after", timestamp=at(2))

    response = await api.get(URL, params={"since": "2024-01-15T10:31:00"})

    assert wamids(response.json()) == ["wamid.after"]


async def test_q_searches_text_caption_and_sender_name_ignoring_case(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    await store_message(runtime, "wamid.text", timestamp=at(0), text_body="Where is my ORDER?")
    await store_message(
        runtime, "wamid.caption", timestamp=at(1), message_type="image", caption="order slip"
    )
    await store_message(
        runtime,
        "wamid.name",
        timestamp=at(2),
        customer=OTHER_CUSTOMER,
        contact_name="Order Desk Ltd",
        text_body="hello",
    )
    await store_message(runtime, "wamid.unrelated", timestamp=at(3), text_body="thanks")

    response = await api.get(URL, params={"q": "order"})

    assert wamids(response.json()) == ["wamid.name", "wamid.caption", "wamid.text"]


@pytest.mark.parametrize(("query", "expected"), [("100%", "wamid.percent"), ("a_b", "wamid.under")])
async def test_q_matches_like_wildcards_literally(
    api: httpx.AsyncClient, runtime: Runtime, query: str, expected: str
) -> None:
    await store_message(runtime, "wamid.percent", timestamp=at(0), text_body="100% refund")
    await store_message(runtime, "wamid.under", timestamp=at(1), text_body="file a_b.pdf")
    await store_message(runtime, "wamid.decoy", timestamp=at(2), text_body="1000 units, axb")

    response = await api.get(URL, params={"q": query})

    assert wamids(response.json()) == [expected]


async def test_conversation_filter_keeps_only_that_conversation(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    mine = await store_message(runtime, "wamid.mine", timestamp=at(0))
    await store_message(runtime, "wamid.other", timestamp=at(1), customer=OTHER_CUSTOMER)

    response = await api.get(URL, params={"conversation": mine})

    assert wamids(response.json()) == ["wamid.mine"]


async def test_filters_combine(api: httpx.AsyncClient, runtime: Runtime) -> None:
    await store_message(runtime, "wamid.match", timestamp=at(0), text_body="refund please")
    await store_message(
        runtime,
        "wamid.wrong-direction",
        timestamp=at(1),
        direction=Direction.OUTBOUND,
        text_body="refund sent",
    )
    await store_message(
        runtime,
        "wamid.wrong-customer",
        timestamp=at(2),
        customer=OTHER_CUSTOMER,
        text_body="refund?",
    )

    response = await api.get(URL, params={"phone": CUSTOMER, "direction": "in", "q": "refund"})

    assert wamids(response.json()) == ["wamid.match"]


async def test_messages_come_newest_first_with_the_later_id_first_on_equal_timestamps(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    await store_message(runtime, "wamid.old", timestamp=at(0))
    await store_message(runtime, "wamid.tie-first", timestamp=at(5))
    await store_message(runtime, "wamid.tie-second", timestamp=at(5))
    await store_message(runtime, "wamid.late-arrival-older", timestamp=at(-1))

    response = await api.get(URL)

    assert wamids(response.json()) == [
        "wamid.tie-second",
        "wamid.tie-first",
        "wamid.old",
        "wamid.late-arrival-older",
    ]


async def test_pages_cover_every_message_once_and_count_only_their_own(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    for minute in range(5):
        await store_message(runtime, f"wamid.{minute}", timestamp=at(minute // 2))

    first = (await api.get(URL, params={"limit": 2})).json()

    assert first["count"] == 2
    assert len(first["messages"]) == 2
    assert await list_all(api, limit=2) == [f"wamid.{m}" for m in (4, 3, 2, 1, 0)]


async def test_last_page_has_no_next_cursor(api: httpx.AsyncClient, runtime: Runtime) -> None:
    for minute in range(2):
        await store_message(runtime, f"wamid.{minute}", timestamp=at(minute))

    body = (await api.get(URL, params={"limit": 2})).json()

    assert body["count"] == 2
    assert body["next_cursor"] is None


async def test_message_arriving_between_pages_neither_repeats_nor_hides_rows(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    for minute in range(4):
        await store_message(runtime, f"wamid.{minute}", timestamp=at(minute))
    first = (await api.get(URL, params={"limit": 2})).json()

    await store_message(runtime, "wamid.newer", timestamp=at(10))
    second = (await api.get(URL, params={"limit": 2, "cursor": first["next_cursor"]})).json()

    assert wamids(first) == ["wamid.3", "wamid.2"]
    assert wamids(second) == ["wamid.1", "wamid.0"]
    assert second["next_cursor"] is None


async def test_cursor_keeps_working_with_the_same_filters(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    for minute in range(6):
        customer = CUSTOMER if minute % 2 else OTHER_CUSTOMER
        await store_message(runtime, f"wamid.{minute}", timestamp=at(minute), customer=customer)

    assert await list_all(api, phone=CUSTOMER, limit=1) == ["wamid.5", "wamid.3", "wamid.1"]


async def test_limit_of_200_is_accepted(api: httpx.AsyncClient, runtime: Runtime) -> None:
    await store_message(runtime, "wamid.one", timestamp=at(0))

    response = await api.get(URL, params={"limit": 200})

    assert response.status_code == 200


async def test_limit_over_200_is_rejected_saying_the_maximum(api: httpx.AsyncClient) -> None:
    response = await api.get(URL, params={"limit": 201})

    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "validation_error"
    assert "limit" in body["detail"]
    assert "200" in body["detail"]


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"phone": "call me"}, "phone"),
        ({"phone": "12"}, "phone"),
        ({"direction": "sideways"}, "direction"),
        ({"status": "lost"}, "status"),
        ({"since": "yesterday"}, "since"),
        ({"since": "2024-01-16T00:00:00Z", "until": "2024-01-15T00:00:00Z"}, "until"),
        ({"conversation": 0}, "conversation"),
        ({"conversation": "abc"}, "conversation"),
        ({"q": ""}, "q"),
    ],
)
async def test_bad_parameter_is_rejected_naming_it(
    api: httpx.AsyncClient, params: dict[str, Any], named: str
) -> None:
    response = await api.get(URL, params=params)

    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "validation_error"
    assert named in body["detail"]


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor",
        "eyJsIjoibWVzc2FnZXMifQ",  # {"l":"messages"}: no position
        # A cursor of the conversation list is not one of the message list.
        "eyJsIjoiY29udmVyc2F0aW9ucyIsInQiOiIyMDI0LTAxLTE1VDEwOjMwOjAwKzAwOjAwIiwiaSI6ODd9",
        "x" * 300,
    ],
)
async def test_bad_cursor_is_rejected(api: httpx.AsyncClient, cursor: str) -> None:
    response = await api.get(URL, params={"cursor": cursor})

    assert response.status_code == 422
    assert "cursor" in response.json()["detail"]

"""POST /api/whatsapp/mark-read/: exact unread counters, idempotence, read-receipt jobs."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.jobs import kinds
from app.messages import service
from app.messages.exceptions import InvalidMarkReadRequest
from app.models import Conversation, Direction, Job, Message
from app.runtime import Runtime
from tests.conftest import PHONE_NUMBER_ID
from tests.messages.store import CUSTOMER, at, store_message
from tests.support.clock import WEDNESDAY_NOON, FixedClock

URL = "/api/whatsapp/mark-read/"
OTHER_CUSTOMER = "447700900123"
SECOND_BUSINESS_NUMBER_ID = "209871234567890"


async def unread(session: AsyncSession, conversation_id: int) -> int:
    count = await session.scalar(
        select(Conversation.unread_count).where(Conversation.id == conversation_id)
    )
    assert count is not None
    return count


async def statuses(session: AsyncSession) -> dict[str, str]:
    rows = await session.execute(select(Message.message_id, Message.status))
    return {wamid: status for wamid, status in rows}


async def read_receipt_payloads(session: AsyncSession) -> list[dict[str, Any]]:
    jobs = await session.scalars(select(Job).where(Job.kind == kinds.READ_RECEIPT).order_by(Job.id))
    return [job.payload for job in jobs]


async def store_unread(runtime: Runtime, count: int, customer: str = CUSTOMER) -> int:
    """Store `count` inbound messages of one customer; return the conversation id."""
    conversation_id = 0
    for n in range(count):
        conversation_id = await store_message(
            runtime, f"wamid.{customer}.{n}", timestamp=at(n), customer=customer
        )
    return conversation_id


async def test_marking_message_ids_reads_them_and_lowers_unread_by_that_many(
    api: httpx.AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    conversation_id = await store_unread(runtime, 3)

    response = await api.post(
        URL, json={"message_ids": [f"wamid.{CUSTOMER}.0", f"wamid.{CUSTOMER}.1"]}
    )

    assert response.status_code == 200
    assert response.json() == {"marked": 2, "conversations": [conversation_id]}
    assert await unread(session, conversation_id) == 1
    assert await statuses(session) == {
        f"wamid.{CUSTOMER}.0": "read",
        f"wamid.{CUSTOMER}.1": "read",
        f"wamid.{CUSTOMER}.2": "received",
    }


async def test_a_message_is_read_at_the_time_of_the_request(
    api: httpx.AsyncClient, runtime: Runtime, session: AsyncSession, clock: FixedClock
) -> None:
    await store_unread(runtime, 1)

    response = await api.post(URL, json={"message_ids": [f"wamid.{CUSTOMER}.0"]})

    assert response.status_code == 200
    read_at = await session.scalar(
        select(Message.status_at).where(Message.message_id == f"wamid.{CUSTOMER}.0")
    )
    assert read_at == clock.now


async def test_marking_a_conversation_reads_only_its_messages(
    api: httpx.AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    mine = await store_unread(runtime, 2)
    other = await store_unread(runtime, 1, customer=OTHER_CUSTOMER)

    response = await api.post(URL, json={"conversation_id": mine})

    assert response.json() == {"marked": 2, "conversations": [mine]}
    assert await unread(session, mine) == 0
    assert await unread(session, other) == 1


@pytest.mark.parametrize("written", ["919876543210", "+91 98765-43210", "0091 98765 43210"])
async def test_seed_client_marks_a_customer_read_by_phone_number_written_any_way(
    api: httpx.AsyncClient, runtime: Runtime, session: AsyncSession, written: str
) -> None:
    mine = await store_unread(runtime, 2)
    other = await store_unread(runtime, 1, customer=OTHER_CUSTOMER)

    response = await api.post(URL, json={"phone_number": written})

    assert response.json() == {"marked": 2, "conversations": [mine]}
    assert await unread(session, mine) == 0
    assert await unread(session, other) == 1


async def test_phone_number_marks_the_customers_conversations_with_every_business_number(
    api: httpx.AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    first = await store_message(runtime, "wamid.a", timestamp=at(0))
    second = await store_message(
        runtime, "wamid.b", timestamp=at(1), phone_number_id=SECOND_BUSINESS_NUMBER_ID
    )

    response = await api.post(URL, json={"phone_number": CUSTOMER})

    assert response.json() == {"marked": 2, "conversations": sorted([first, second])}
    assert await unread(session, first) == await unread(session, second) == 0


async def test_outbound_and_already_read_messages_are_not_counted(
    api: httpx.AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    conversation_id = await store_message(runtime, "wamid.in", timestamp=at(0))
    await store_message(runtime, "wamid.out", timestamp=at(1), direction=Direction.OUTBOUND)
    await store_message(runtime, "wamid.seen", timestamp=at(2), status="read")

    response = await api.post(URL, json={"message_ids": ["wamid.in", "wamid.out", "wamid.seen"]})

    assert response.json() == {"marked": 1, "conversations": [conversation_id]}
    assert (await statuses(session))["wamid.out"] == "sent"


async def test_repeating_a_mark_read_changes_nothing(
    api: httpx.AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    conversation_id = await store_unread(runtime, 2)
    await api.post(URL, json={"conversation_id": conversation_id})

    response = await api.post(URL, json={"conversation_id": conversation_id})

    assert response.json() == {"marked": 0, "conversations": []}
    assert await unread(session, conversation_id) == 0
    assert len(await read_receipt_payloads(session)) == 1


async def test_unknown_message_ids_mark_nothing(
    api: httpx.AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    conversation_id = await store_unread(runtime, 1)

    response = await api.post(URL, json={"message_ids": ["wamid.unknown"]})

    assert response.json() == {"marked": 0, "conversations": []}
    assert await unread(session, conversation_id) == 1


async def test_unread_count_never_goes_below_zero(
    api: httpx.AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    conversation_id = await store_unread(runtime, 3)
    # A counter that has drifted below the number of received messages.
    async with runtime.sessions() as other:
        await other.execute(
            update(Conversation).where(Conversation.id == conversation_id).values(unread_count=1)
        )
        await other.commit()

    response = await api.post(URL, json={"conversation_id": conversation_id})

    assert response.json()["marked"] == 3
    assert await unread(session, conversation_id) == 0


async def test_concurrent_mark_reads_of_the_same_messages_count_each_message_once(
    api: httpx.AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    conversation_id = await store_unread(runtime, 5)
    chosen = [f"wamid.{CUSTOMER}.{n}" for n in range(3)]

    responses = await asyncio.gather(
        *(api.post(URL, json={"message_ids": chosen}) for _ in range(8))
    )

    assert all(r.status_code == 200 for r in responses)
    assert sum(r.json()["marked"] for r in responses) == 3
    assert await unread(session, conversation_id) == 2
    assert len(await read_receipt_payloads(session)) == 1


async def test_read_receipt_job_names_each_conversations_newest_marked_message(
    api: httpx.AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    await store_message(runtime, "wamid.a-old", timestamp=at(0))
    await store_message(runtime, "wamid.a-new", timestamp=at(5))
    await store_message(runtime, "wamid.a-newest-unmarked", timestamp=at(9))
    await store_message(
        runtime, "wamid.b", timestamp=at(1), phone_number_id=SECOND_BUSINESS_NUMBER_ID
    )

    await api.post(URL, json={"message_ids": ["wamid.a-new", "wamid.a-old", "wamid.b"]})

    payloads = await read_receipt_payloads(session)
    assert sorted(payloads, key=lambda p: p["message_id"]) == [
        {"message_id": "wamid.a-new", "phone_number_id": PHONE_NUMBER_ID},
        {"message_id": "wamid.b", "phone_number_id": SECOND_BUSINESS_NUMBER_ID},
    ]


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({}, 422, "exactly one"),
        ({"conversation_id": 1, "phone_number": CUSTOMER}, 422, "exactly one"),
        ({"message_ids": []}, 422, "message_ids"),
        ({"phone_number": "not a number"}, 422, "phone_number"),
        ({"phone_number": CUSTOMER, "read": True}, 422, "read"),
        ({"conversation_id": "first"}, 422, "conversation_id"),
        ({"conversation_id": 999999}, 404, "999999"),
        ({"phone_number": "+44 7700 900999"}, 404, "447700900999"),
    ],
)
async def test_bad_request_gets_a_clear_error_and_changes_nothing(
    api: httpx.AsyncClient,
    runtime: Runtime,
    session: AsyncSession,
    body: dict[str, Any],
    status: int,
    says: str,
) -> None:
    conversation_id = await store_unread(runtime, 2)

    response = await api.post(URL, json=body)

    assert response.status_code == status
    assert says in response.json()["detail"]
    assert await unread(session, conversation_id) == 2
    assert set((await statuses(session)).values()) == {"received"}
    assert await session.scalar(select(func.count()).select_from(Job)) == 0


async def test_service_refuses_a_call_that_names_no_messages(
    runtime: Runtime, settings: Settings
) -> None:
    async with runtime.sessions() as session:
        with pytest.raises(InvalidMarkReadRequest):
            await service.mark_read(session, settings, now=WEDNESDAY_NOON, message_ids=[])

"""Deliveries as large as the body limit allows are stored whole, not answered 503.

Statement parameters are sent in bounded batches (PostgreSQL takes at most 32,767 per
statement) and the status path takes a bounded number of locks, so neither the number of
messages nor the number of senders in one body can make the database refuse it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import func, insert, select

from app.config import Settings
from app.models import Conversation, Direction, Message, MessageStatus, MessageStatusUpdate
from app.runtime import Runtime
from tests.conftest import PHONE_NUMBER_ID
from tests.support import payloads as p
from tests.support.large_bodies import SENT_AT, messages_body, status_wamid, statuses_body

pytestmark = pytest.mark.slow


async def _count(runtime: Runtime, *columns: Any) -> tuple[Any, ...]:
    async with runtime.sessions() as session:
        return tuple((await session.execute(select(*columns))).one())


async def test_thirty_thousand_messages_from_eleven_thousand_senders_are_stored(
    client: httpx.AsyncClient, runtime: Runtime, settings: Settings
) -> None:
    body = messages_body(30_000, 11_000)
    assert len(body) <= settings.max_body_bytes
    response = await p.deliver(client, body)
    assert response.status_code == 200, response.text
    assert (response.json()["stored_items"], response.json()["new_messages"]) == (30_000, 30_000)
    assert await _count(runtime, func.count(Message.id)) == (30_000,)
    assert await _count(
        runtime, func.count(Conversation.id), func.sum(Conversation.message_count)
    ) == (11_000, 30_000)


async def test_a_thousand_messages_of_four_kilobytes_each_are_stored(
    client: httpx.AsyncClient, runtime: Runtime, settings: Settings
) -> None:
    body = messages_body(1000, 1000, text="x" * 4000)
    assert 4_000_000 < len(body) <= settings.max_body_bytes
    response = await p.deliver(client, body)
    assert response.status_code == 200, response.text
    assert await _count(runtime, func.count(Message.id)) == (1000,)


async def test_thirty_five_thousand_statuses_are_stored_and_applied(
    client: httpx.AsyncClient, runtime: Runtime, settings: Settings
) -> None:
    # A fifth of them are about messages the business sent before; the rest are kept
    # until their messages appear.
    async with runtime.sessions() as session:
        await session.execute(
            insert(Message.__table__),
            [
                {
                    "message_id": status_wamid(n),
                    "direction": Direction.OUTBOUND,
                    "phone_number_id": PHONE_NUMBER_ID,
                    "message_type": "text",
                    "timestamp": datetime.fromtimestamp(SENT_AT, UTC),
                    "status": MessageStatus.ACCEPTED,
                    "notes": "",
                }
                for n in range(7_000)
            ],
        )
        await session.commit()
    body = statuses_body(35_000)
    assert len(body) <= settings.max_body_bytes
    response = await p.deliver(client, body)
    assert response.status_code == 200, response.text
    assert response.json()["new_statuses"] == 35_000
    assert await _count(runtime, func.count(MessageStatusUpdate.id)) == (35_000,)
    assert await _count(
        runtime, func.count(Message.id).filter(Message.status == MessageStatus.READ)
    ) == (7_000,)

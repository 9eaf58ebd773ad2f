"""Helpers of the send tests: Meta's send endpoint mocked, customers who wrote at a given time."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import func, select

from app.config import DEFAULT_API_VERSION
from app.conversations.repository import ConversationRepository
from app.models import Conversation, Message
from app.runtime import Runtime
from tests.conftest import PHONE_NUMBER_ID

GRAPH = f"https://graph.facebook.com/{DEFAULT_API_VERSION}"
MESSAGES_URL = f"{GRAPH}/{PHONE_NUMBER_ID}/messages"
CUSTOMER = "919876543210"
SEND_URL = "/api/whatsapp/messages/"

_wamids = itertools.count(1)


def new_sent_wamid() -> str:
    """A wamid as Meta gives for a message it accepted."""
    return f"wamid.HBgMOTE5ODc2NTQzMjEwFQIAERgSOUT{next(_wamids):06d}"


def accepted(payload: dict[str, Any], wamid: str | None = None) -> httpx.Response:
    """Meta's answer to a send it accepted."""
    to = payload.get("to") or payload.get("recipient")
    return httpx.Response(
        200,
        json={
            "messaging_product": "whatsapp",
            "contacts": [{"input": to, "wa_id": to}],
            "messages": [{"id": wamid or new_sent_wamid()}],
        },
    )


def meta_error(status: int, code: int, message: str, **error: Any) -> httpx.Response:
    """A Graph API error answer as Meta writes it."""
    body = {"error": {"message": message, "type": "OAuthException", "code": code, **error}}
    return httpx.Response(status, json=body)


@pytest.fixture
def graph() -> Iterator[respx.MockRouter]:
    """Meta's Graph API, mocked; any other outgoing request fails the test."""
    with respx.mock(assert_all_called=False) as router:
        yield router


@pytest.fixture
def meta(graph: respx.MockRouter) -> respx.Route:
    """Meta's send endpoint, accepting every message with a new wamid."""
    return graph.post(MESSAGES_URL).mock(side_effect=lambda request: accepted(_json(request)))


def _json(request: httpx.Request) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(request.content)
    return data


def sent_payload(route: respx.Route, index: int = -1) -> dict[str, Any]:
    """The JSON body of a send Meta received."""
    return _json(route.calls[index].request)


async def customer_wrote(
    runtime: Runtime,
    ago: timedelta | None,
    *,
    phone_number: str | None = CUSTOMER,
    user_id: str | None = None,
) -> int:
    """A conversation whose customer last wrote `ago` before the runtime's now (None: never)."""
    async with runtime.sessions.begin() as session:
        conversations = ConversationRepository(session)
        conversation_id = await conversations.upsert_customer(
            phone_number_id=PHONE_NUMBER_ID,
            phone_number=phone_number,
            user_id=user_id,
            contact_name="John Doe",
        )
        if ago is not None:
            wrote_at = runtime.clock() - ago
            await conversations.add_messages(
                conversation_id,
                count=1,
                unread=1,
                last_message_at=wrote_at,
                last_inbound_at=wrote_at,
            )
    return conversation_id


async def conversation(runtime: Runtime, conversation_id: int) -> Conversation:
    """The conversation as stored now."""
    async with runtime.sessions() as session:
        found = await session.get(Conversation, conversation_id)
    assert found is not None
    return found


async def outbound_messages(runtime: Runtime) -> list[Message]:
    """Every stored outbound message, oldest first."""
    async with runtime.sessions() as session:
        result = await session.execute(
            select(Message).where(Message.direction == "out").order_by(Message.id)
        )
        return list(result.scalars())


async def message_rows(runtime: Runtime) -> int:
    """How many messages are stored."""
    async with runtime.sessions() as session:
        return int((await session.execute(select(func.count(Message.id)))).scalar_one())


def hours(n: float) -> timedelta:
    """n hours."""
    return timedelta(hours=n)

"""Storing messages for the read-API tests the way the inbound and send paths do.

A message is stored through the repositories in one committed transaction: the
conversation is upserted, the message inserted once per wamid, and the conversation's
counters moved only for a message that was new.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from app.conversations.repository import ConversationRepository
from app.messages.repository import MessageRepository
from app.models import Direction, MessageStatus
from app.runtime import Runtime
from tests.conftest import PHONE_NUMBER_ID

CUSTOMER = "919876543210"
BUSINESS_NUMBER = "15550783881"
START = datetime(2024, 1, 15, 10, 30, tzinfo=UTC)


def at(minutes: float) -> datetime:
    """A moment `minutes` after the first test message."""
    return START + timedelta(minutes=minutes)


async def store_message(
    runtime: Runtime,
    wamid: str,
    *,
    timestamp: datetime,
    customer: str | None = CUSTOMER,
    direction: str = Direction.INBOUND,
    contact_name: str | None = "John Doe",
    phone_number_id: str = PHONE_NUMBER_ID,
    user_id: str | None = None,
    **columns: Any,
) -> int:
    """Store one message of a customer's conversation; return the conversation's id.

    `columns` sets any other message column (text_body, message_type, caption, …).
    """
    inbound = direction == Direction.INBOUND
    row: dict[str, Any] = {
        "message_id": wamid,
        "direction": direction,
        "phone_number_id": phone_number_id,
        "from_number": customer if inbound else BUSINESS_NUMBER,
        "from_name": contact_name if inbound else None,
        "to_number": BUSINESS_NUMBER if inbound else customer,
        "user_id": user_id,
        "message_type": "text",
        "timestamp": timestamp,
        "status": MessageStatus.RECEIVED if inbound else MessageStatus.SENT,
        "notes": "",
        "raw": {"id": wamid, "type": columns.get("message_type", "text")},
        **columns,
    }
    async with runtime.sessions() as session:
        conversations = ConversationRepository(session)
        conversation_id = await conversations.upsert_customer(
            phone_number_id=phone_number_id,
            phone_number=customer,
            user_id=user_id,
            contact_name=contact_name if inbound else None,
        )
        row["conversation_id"] = conversation_id
        if await MessageRepository(session).insert_ignore([row]):
            await conversations.add_messages(
                conversation_id,
                count=1,
                unread=1 if inbound else 0,
                last_message_at=timestamp,
                last_inbound_at=timestamp if inbound else None,
            )
        await session.commit()
    return conversation_id


async def store_conversation(
    runtime: Runtime, customer: str, *, contact_name: str | None = None
) -> int:
    """Store a conversation with no messages yet (as the send path may); return its id."""
    async with runtime.sessions() as session:
        conversation_id = await ConversationRepository(session).upsert_customer(
            phone_number_id=PHONE_NUMBER_ID,
            phone_number=customer,
            user_id=None,
            contact_name=contact_name,
        )
        await session.commit()
    return conversation_id

"""A delivery holds its conversations' row locks only from the counters' update to the
commit, so that concurrent deliveries to the same conversations wait for each other as
little as they can (PostgreSQL: SQLite has one writer, and row locks are PostgreSQL's).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from app.conversations.repository import ConversationRepository
from app.messages.repository import MessageRepository
from app.runtime import Runtime

PNID = "100000000000001"
NUMBER = "919800000010"
AT = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)

# Row locks are PostgreSQL's.
pytestmark = pytest.mark.parametrize("backend", ["postgresql"])


async def _is_locked(runtime: Runtime, conversation_id: int) -> bool:
    """Whether another transaction holds the conversation's row lock."""
    async with runtime.engine.connect() as connection:
        try:
            await connection.execute(
                text(
                    "SELECT id FROM whatsapp_whatsappconversation WHERE id = :id "
                    "FOR NO KEY UPDATE NOWAIT"
                ),
                {"id": conversation_id},
            )
        except DBAPIError:
            return True
        finally:
            await connection.rollback()
    return False


@asynccontextmanager
async def _open_transaction(runtime: Runtime) -> AsyncIterator[AsyncSession]:
    async with runtime.sessions() as session:
        yield session
        await session.rollback()


async def _existing_conversation(runtime: Runtime, name: str) -> int:
    async with runtime.sessions() as session:
        ids = await ConversationRepository(session).upsert_numbers([(PNID, NUMBER, name)])
        await session.commit()
    return ids[(PNID, NUMBER)]


def _message(wamid: str, conversation_id: int) -> dict[str, object]:
    return {
        "message_id": wamid,
        "conversation_id": conversation_id,
        "direction": "in",
        "phone_number_id": PNID,
        "from_number": NUMBER,
        "message_type": "text",
        "text_body": "hello",
        "timestamp": AT,
        "status": "received",
        "media_state": "none",
    }


async def test_finding_a_known_conversation_leaves_it_unlocked(runtime: Runtime) -> None:
    conversation_id = await _existing_conversation(runtime, "Asha")
    async with _open_transaction(runtime) as session:
        ids = await ConversationRepository(session).upsert_numbers([(PNID, NUMBER, "Asha")])
        assert ids == {(PNID, NUMBER): conversation_id}
        assert not await _is_locked(runtime, conversation_id)


async def test_a_conversation_that_learns_a_new_name_is_written_and_locked(
    runtime: Runtime,
) -> None:
    conversation_id = await _existing_conversation(runtime, "Asha")
    async with _open_transaction(runtime) as session:
        ids = await ConversationRepository(session).upsert_numbers([(PNID, NUMBER, "Asha K")])
        assert ids == {(PNID, NUMBER): conversation_id}
        assert await _is_locked(runtime, conversation_id)
        name = await session.scalar(
            text("SELECT contact_name FROM whatsapp_whatsappconversation WHERE id = :id"),
            {"id": conversation_id},
        )
        assert name == "Asha K"


async def test_counting_new_messages_locks_their_conversation_until_the_commit(
    runtime: Runtime,
) -> None:
    conversation_id = await _existing_conversation(runtime, "Asha")
    async with _open_transaction(runtime) as session:
        counted = await MessageRepository(session).insert_ignore_counted(
            [_message("wamid.LOCK1", conversation_id)]
        )
        assert counted == {"wamid.LOCK1": 1}
        assert await _is_locked(runtime, conversation_id)
    assert not await _is_locked(runtime, conversation_id)

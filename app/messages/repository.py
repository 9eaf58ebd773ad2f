"""SQL for messages."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Message
from app.upsert import dialect_insert


class MessageRepository:
    """Finds and stores messages; a wamid is stored once, whoever inserts it first."""

    model = Message

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def insert_ignore(self, rows: list[dict[str, Any]]) -> set[str]:
        """Insert messages, skipping wamids already stored; return the wamids that were new.

        A single INSERT … ON CONFLICT DO NOTHING, so two deliveries of the same message
        racing each other store it once and exactly one of them sees it as new.
        """
        if not rows:
            return set()
        stmt = (
            dialect_insert(self.session, Message)
            .values(rows)
            .on_conflict_do_nothing(index_elements=[Message.message_id])
            .returning(Message.message_id)
        )
        result = await self.session.execute(stmt)
        return {row[0] for row in result.all()}

    async def get_by_message_id(self, message_id: str) -> Message | None:
        """The message with this wamid, or None."""
        result = await self.session.execute(select(Message).where(Message.message_id == message_id))
        return result.scalar_one_or_none()

    async def get_by_id(self, id_: int) -> Message | None:
        """The message with this primary key, or None."""
        return await self.session.get(Message, id_)

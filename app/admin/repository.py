"""SQL the admin pages need beyond what the domains' repositories offer."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Conversation, Message, MessageStatusUpdate


class AdminRepository:
    """Look-ups by the admin's row ids, and statuses of a page of messages at once."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def message_ids_for(self, ids: Sequence[int]) -> list[str]:
        """The wamids of the messages with these primary keys (unknown ids are skipped)."""
        if not ids:
            return []
        result = await self.session.execute(
            select(Message.message_id).where(Message.id.in_(ids)).order_by(Message.id)
        )
        return list(result.scalars())

    async def statuses_by_message(
        self, message_ids: Sequence[str]
    ) -> dict[str, list[MessageStatusUpdate]]:
        """Every status Meta reported for these wamids, oldest first, by wamid."""
        found: dict[str, list[MessageStatusUpdate]] = defaultdict(list)
        if not message_ids:
            return found
        result = await self.session.execute(
            select(MessageStatusUpdate)
            .where(MessageStatusUpdate.message_id.in_(message_ids))
            .order_by(MessageStatusUpdate.timestamp, MessageStatusUpdate.id)
        )
        for status in result.scalars():
            found[status.message_id].append(status)
        return found

    async def latest_messages(self, conversation_ids: Sequence[int]) -> dict[int, Message]:
        """The newest message of each of these conversations, by conversation id.

        One statement: for each conversation its newest message's id comes from the
        (conversation_id, timestamp, id) index, and those rows are read.
        """
        if not conversation_ids:
            return {}
        newest = (
            select(Message.id)
            .where(Message.conversation_id == Conversation.id)
            .order_by(Message.timestamp.desc(), Message.id.desc())
            .limit(1)
            .correlate(Conversation)
            .scalar_subquery()
        )
        ids = select(newest).where(Conversation.id.in_(conversation_ids))
        result = await self.session.execute(select(Message).where(Message.id.in_(ids)))
        return {m.conversation_id: m for m in result.scalars() if m.conversation_id is not None}

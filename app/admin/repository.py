"""SQL the admin pages need beyond what the domains' repositories offer."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Message, MessageStatusUpdate


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

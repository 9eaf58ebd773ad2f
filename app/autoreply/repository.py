"""SQL of auto-replies: the per-conversation cooldown of each rule, and finding a caller."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import UTCDateTime
from app.models import AutoReplyLog, Conversation
from app.upsert import dialect_insert


class AutoReplyRepository:
    """Decides, atomically, whether a rule may answer a conversation now."""

    model = AutoReplyLog

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def claim_cooldown(
        self, conversation_id: int, rule: str, *, now: datetime, cooldown: timedelta
    ) -> bool:
        """Record that `rule` answers the conversation now, unless it did within `cooldown`.

        One INSERT … ON CONFLICT DO UPDATE … WHERE last_sent_at < now - cooldown: of
        concurrent deliveries that all want the same reply, exactly one gets True (on
        PostgreSQL the others wait for its commit and then find the fresh time).
        """
        stmt = dialect_insert(self.session, AutoReplyLog).values(
            conversation_id=conversation_id, rule=rule, last_sent_at=now
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[AutoReplyLog.conversation_id, AutoReplyLog.rule],
            set_={"last_sent_at": stmt.excluded.last_sent_at},
            where=AutoReplyLog.last_sent_at < literal(now - cooldown, UTCDateTime()),
        ).returning(AutoReplyLog.id)
        result = await self.session.execute(stmt)
        return result.scalar_one_or_none() is not None

    async def get_caller_conversation(
        self, phone_number_id: str, phone_number: str | None, user_id: str | None
    ) -> Conversation | None:
        """The conversation of a customer who called, by number or else by user id."""
        for column, value in (
            (Conversation.phone_number, phone_number),
            (Conversation.user_id, user_id),
        ):
            if not value:
                continue
            result = await self.session.execute(
                select(Conversation).where(
                    Conversation.phone_number_id == phone_number_id, column == value
                )
            )
            conversation = result.scalar_one_or_none()
            if conversation is not None:
                return conversation
        return None

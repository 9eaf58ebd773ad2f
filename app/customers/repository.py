"""SQL that finds and deletes everything stored about one customer's phone number."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Text, cast, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from app.models import (
    AutoReplyLog,
    Conversation,
    IdempotencyKey,
    Job,
    Message,
    MessageStatusUpdate,
    WebhookEvent,
)


@dataclass(frozen=True)
class CustomerRows:
    """The rows that hold a customer's messages, found before anything is deleted."""

    conversation_ids: list[int]
    message_ids: list[int]
    wamids: list[str]
    media_keys: list[str]


def _quoted(phone_number: str) -> str:
    """LIKE pattern of the number as a JSON string, the way bodies and JSON columns hold
    it (a normalized number is digits only: nothing to escape)."""
    return f'%"{phone_number}"%'


class CustomerDataRepository:
    """Every table that can hold a customer's number or messages."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def find(self, phone_number: str) -> CustomerRows:
        """The customer's conversations and messages (in or out), and their media files."""
        conversation_ids = list(
            (
                await self.session.scalars(
                    select(Conversation.id).where(Conversation.phone_number == phone_number)
                )
            ).all()
        )
        mine: list[ColumnElement[bool]] = [
            Message.from_number == phone_number,
            Message.to_number == phone_number,
        ]
        if conversation_ids:
            mine.append(Message.conversation_id.in_(conversation_ids))
        rows = (
            await self.session.execute(
                select(Message.id, Message.message_id, Message.media_path).where(or_(*mine))
            )
        ).all()
        return CustomerRows(
            conversation_ids=conversation_ids,
            message_ids=[row.id for row in rows],
            wamids=[row.message_id for row in rows],
            media_keys=[row.media_path for row in rows if row.media_path],
        )

    async def _delete(self, model: type, *where: ColumnElement[bool]) -> int:
        result = await self.session.execute(
            delete(model).where(or_(*where)).execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0))

    async def delete_statuses(self, phone_number: str, wamids: list[str]) -> int:
        """Statuses of the customer's messages, and any reported for their number."""
        return await self._delete(
            MessageStatusUpdate,
            MessageStatusUpdate.recipient_id == phone_number,
            MessageStatusUpdate.message_id.in_(wamids),
        )

    async def delete_jobs(
        self, phone_number: str, wamids: list[str], conversation_ids: list[int]
    ) -> int:
        """Jobs about the customer's messages or conversations, or naming their number."""
        return await self._delete(
            Job,
            Job.payload["message_id"].as_string().in_(wamids),
            Job.payload["conversation_id"].as_integer().in_(conversation_ids),
            cast(Job.payload, Text).like(_quoted(phone_number)),
        )

    async def delete_events(self, phone_number: str) -> int:
        """Raw events whose body names the number (as `from`, `wa_id`, `recipient_id`…)."""
        needle = f'"{phone_number}"'.encode()
        # Bodies are bytes (not always UTF-8): PostgreSQL matches bytea with LIKE, SQLite
        # matches no BLOB with LIKE but finds bytes with instr().
        names_it = (
            func.instr(WebhookEvent.raw_body, needle) > 0
            if self.session.get_bind().dialect.name == "sqlite"
            else WebhookEvent.raw_body.op("LIKE")(b"%" + needle + b"%")
        )
        return await self._delete(WebhookEvent, names_it)

    async def delete_idempotency_keys(self, phone_number: str) -> int:
        """Remembered send answers that name the number."""
        return await self._delete(
            IdempotencyKey,
            cast(IdempotencyKey.response, Text).like(_quoted(phone_number)),
        )

    async def delete_conversations(self, rows: CustomerRows) -> tuple[int, int, int]:
        """The messages, auto-reply records and conversations; their three counts."""
        messages = await self._delete(Message, Message.id.in_(rows.message_ids))
        replies = await self._delete(
            AutoReplyLog, AutoReplyLog.conversation_id.in_(rows.conversation_ids)
        )
        conversations = await self._delete(Conversation, Conversation.id.in_(rows.conversation_ids))
        return messages, replies, conversations

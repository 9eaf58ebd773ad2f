"""SQL for the media columns of messages."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import MediaState, Message


@dataclass(frozen=True)
class StoredMediaRecord:
    """What a message records once its file is stored."""

    path: str
    size: int
    sha256: str
    mime_type: str | None
    filename: str
    url: str


class MediaRepository:
    """Writes a message's media state; every write is a conditional UPDATE, safe to repeat."""

    model = Message

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def mark_stored(self, message_id: str, record: StoredMediaRecord) -> bool:
        """Record the stored file on the message; False when no such message exists."""
        result = await self.session.execute(
            update(Message)
            .where(Message.message_id == message_id)
            .values(
                media_state=MediaState.STORED,
                media_error=None,
                media_path=record.path,
                media_size=record.size,
                media_sha256=record.sha256,
                mime_type=record.mime_type,
                filename=record.filename,
                media_url=record.url,
            )
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))

    async def conversation_of(self, message_id: str) -> int | None:
        """The conversation of the message with this wamid (None if it has none)."""
        result = await self.session.execute(
            select(Message.conversation_id).where(Message.message_id == message_id)
        )
        return result.scalar_one_or_none()

    async def mark_failed(self, message_id: str, reason: str) -> bool:
        """Record why the media could not be stored, unless another run already stored it."""
        result = await self.session.execute(
            update(Message)
            .where(
                Message.message_id == message_id,
                or_(Message.media_state.is_(None), Message.media_state != MediaState.STORED),
            )
            .values(media_state=MediaState.FAILED, media_error=reason)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))

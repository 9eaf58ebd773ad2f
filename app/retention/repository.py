"""SQL of retention: deletes in bounded batches, so that no transaction grows large."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Job, JobState, MediaState, Message, WebhookEvent


class RetentionRepository:
    """Finds and removes what is older than its retention time."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def delete_events_before(self, cutoff: datetime, *, limit: int) -> int:
        """Delete up to `limit` raw events received before `cutoff`; return how many."""
        ids = select(WebhookEvent.id).where(WebhookEvent.received_at < cutoff).limit(limit)
        result = await self.session.execute(
            delete(WebhookEvent)
            .where(WebhookEvent.id.in_(ids.scalar_subquery()))
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0))

    async def delete_finished_jobs_before(self, cutoff: datetime, *, limit: int) -> int:
        """Delete up to `limit` done or dead jobs finished before `cutoff`."""
        ids = (
            select(Job.id)
            .where(Job.state.in_((JobState.DONE, JobState.DEAD)), Job.finished_at < cutoff)
            .limit(limit)
        )
        result = await self.session.execute(
            delete(Job)
            .where(Job.id.in_(ids.scalar_subquery()))
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0))

    async def media_stored_before(self, cutoff: datetime, *, limit: int) -> list[tuple[int, str]]:
        """(message id, file key) of up to `limit` files of messages sent before `cutoff`."""
        rows = await self.session.execute(
            select(Message.id, Message.media_path)
            .where(
                Message.timestamp < cutoff,
                Message.media_state == MediaState.STORED,
                Message.media_path.is_not(None),
            )
            .order_by(Message.timestamp, Message.id)
            .limit(limit)
        )
        return [(int(id_), str(path)) for id_, path in rows]

    async def mark_media_expired(self, message_ids: list[int]) -> None:
        """Record that these messages' files were deleted (their rows stay)."""
        await self.session.execute(
            update(Message)
            .where(Message.id.in_(message_ids), Message.media_state == MediaState.STORED)
            .values(media_state=MediaState.EXPIRED, media_path=None)
            .execution_options(synchronize_session=False)
        )

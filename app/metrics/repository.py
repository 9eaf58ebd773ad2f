"""Gauges read from the database: the same answer from any process, none kept in memory."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Job, JobState, MediaState, Message, MessageStatusUpdate


@dataclass(frozen=True)
class StoredTotals:
    """What the database holds right now, for the gauges of /metrics."""

    messages: list[tuple[str, str, int]]  # (direction, type, count)
    statuses: list[tuple[str, int]]  # (status, count)
    jobs: list[tuple[str, str, int]]  # (kind, state, count)
    oldest_due_job_age_seconds: float
    media_files: int
    media_bytes: int


class MetricsRepository:
    """One grouped query per gauge."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def totals(self, *, now: datetime) -> StoredTotals:
        """Counts of messages, statuses and jobs, the oldest due job, the media stored."""
        messages = await self.session.execute(
            select(Message.direction, Message.message_type, func.count()).group_by(
                Message.direction, Message.message_type
            )
        )
        statuses = await self.session.execute(
            select(MessageStatusUpdate.status, func.count()).group_by(MessageStatusUpdate.status)
        )
        jobs = await self.session.execute(
            select(Job.kind, Job.state, func.count()).group_by(Job.kind, Job.state)
        )
        oldest_due = await self.session.scalar(
            select(func.min(Job.run_after)).where(
                Job.state == JobState.QUEUED, Job.run_after <= now
            )
        )
        media = (
            await self.session.execute(
                select(func.count(), func.coalesce(func.sum(Message.media_size), 0)).where(
                    Message.media_state == MediaState.STORED
                )
            )
        ).one()
        return StoredTotals(
            messages=[(str(d), str(t), int(n)) for d, t, n in messages],
            statuses=[(str(s), int(n)) for s, n in statuses],
            jobs=[(str(k), str(s), int(n)) for k, s, n in jobs],
            oldest_due_job_age_seconds=_age(oldest_due, now),
            media_files=int(media[0] or 0),
            media_bytes=int(media[1] or 0),
        )


def _age(since: datetime | str | None, now: datetime) -> float:
    # MIN() of a column comes back untyped on SQLite: a string in the column's format.
    if since is None:
        return 0.0
    if isinstance(since, str):
        since = datetime.fromisoformat(since)
    if since.tzinfo is None:
        since = since.replace(tzinfo=now.tzinfo)
    return max(0.0, (now - since).total_seconds())

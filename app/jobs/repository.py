"""SQL for the jobs table (the outbox)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.db import utcnow
from app.models import Job, JobState


class JobRepository:
    """Jobs are written in the caller's transaction, so they exist iff its change does."""

    model = Job

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def enqueue(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        max_attempts: int,
        run_after: datetime | None = None,
    ) -> Job:
        """Add a queued job to the current transaction and return it (with its id)."""
        job = Job(
            kind=kind,
            payload=payload,
            state=JobState.QUEUED,
            max_attempts=max_attempts,
            run_after=run_after or utcnow(),
        )
        self.session.add(job)
        await self.session.flush()
        return job

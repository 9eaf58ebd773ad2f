"""Apply the retention settings: delete what has been kept long enough.

Raw events are kept RETENTION_RAW_EVENTS_DAYS (enough to replay and debug a delivery),
finished jobs RETENTION_FINISHED_JOBS_DAYS, media files RETENTION_MEDIA_DAYS (the
message keeps its row, its media marked `expired`). 0 keeps forever. Each batch is its
own transaction, so a first run over a large backlog never holds one long transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.retention.repository import RetentionRepository
from app.runtime import Runtime

BATCH = 1000
MEDIA_BATCH = 200


@dataclass(frozen=True)
class RetentionResult:
    """How many of each were removed."""

    events: int
    jobs: int
    media_files: int


async def _in_batches(
    runtime: Runtime, delete_batch: Callable[[RetentionRepository], Awaitable[int]]
) -> int:
    removed = 0
    while True:
        async with runtime.sessions() as session:
            count = await delete_batch(RetentionRepository(session))
            await session.commit()
        removed += count
        if count < BATCH:
            return removed


async def _expire_media(runtime: Runtime, cutoff: datetime) -> int:
    """Delete the files first, then mark their messages: a file is never left without a
    row that points to it, and a run that stops halfway is finished by the next."""
    removed = 0
    while True:
        async with runtime.reads() as session:
            files = await RetentionRepository(session).media_stored_before(
                cutoff, limit=MEDIA_BATCH
            )
        for _message_id, key in files:
            await runtime.storage.delete(key)
        if files:
            async with runtime.sessions() as session:
                await RetentionRepository(session).mark_media_expired([id_ for id_, _ in files])
                await session.commit()
        removed += len(files)
        if len(files) < MEDIA_BATCH:
            return removed


async def apply_retention(runtime: Runtime, *, now: datetime) -> RetentionResult:
    """Delete raw events, finished jobs and media files older than their settings allow."""
    settings = runtime.settings
    events = jobs = media = 0
    if settings.retention_raw_events_days:
        cutoff = now - timedelta(days=settings.retention_raw_events_days)
        events = await _in_batches(runtime, lambda r: r.delete_events_before(cutoff, limit=BATCH))
    if settings.retention_finished_jobs_days:
        cutoff = now - timedelta(days=settings.retention_finished_jobs_days)
        jobs = await _in_batches(
            runtime, lambda r: r.delete_finished_jobs_before(cutoff, limit=BATCH)
        )
    if settings.retention_media_days:
        media = await _expire_media(runtime, now - timedelta(days=settings.retention_media_days))
    return RetentionResult(events=events, jobs=jobs, media_files=media)

"""What the jobs API and the admin panel do with jobs: list, look at, retry."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.jobs.exceptions import JobNotFound, JobNotRetryable, JobNotUncertain
from app.jobs.repository import JobRepository
from app.jobs.schemas import JobListParams
from app.models import Job, JobState
from app.pagination import Cursor, Page, page_start, paginate

CURSOR_LIST = "jobs"


async def list_jobs(session: AsyncSession, params: JobListParams) -> Page[Job]:
    """Jobs newest first, of the state and kind in `params` (or its cursor's filters)."""
    start = page_start(CURSOR_LIST, params)
    params = start.params
    rows = await JobRepository(session).list_newest_first(
        state=params.state,
        kind=params.kind,
        before_id=start.after.id if start.after else None,
        limit=params.limit + 1,
    )
    return paginate(rows, params, CURSOR_LIST, lambda job: Cursor(at=None, id=job.id))


async def get_job(session: AsyncSession, job_id: int) -> Job:
    """The job with this id; JobNotFound if there is none."""
    job = await JobRepository(session).get_by_id(job_id)
    if job is None:
        raise JobNotFound(f"no job with id {job_id}", job_id=job_id)
    return job


async def retry_job(session: AsyncSession, job_id: int, *, now: datetime) -> Job:
    """Queue a dead job (or a queued one waiting out its backoff) to run at `now`.

    Its attempts start again from zero; its last error stays until a new run replaces
    it. Raises JobNotFound for an unknown id and JobNotRetryable for a job that is
    running or done. The caller commits.
    """
    repository = JobRepository(session)
    job = await repository.requeue(job_id, now=now)
    if job is not None:
        return job
    existing = await repository.get_by_id(job_id)
    if existing is None:
        raise JobNotFound(f"no job with id {job_id}", job_id=job_id)
    hint = ""
    if existing.state == JobState.UNCERTAIN:
        hint = "; an uncertain job is run again with send-again"
    raise JobNotRetryable(
        f"job {job_id} is {existing.state}; only dead or queued jobs can be retried{hint}",
        job_id=job_id,
        state=existing.state,
    )


async def send_again(session: AsyncSession, job_id: int, *, now: datetime) -> Job:
    """Queue an `uncertain` job to make its call again at `now`: a person's choice.

    Its earlier run may have sent the message already; choosing this accepts that the
    customer may get it twice. Raises JobNotFound for an unknown id and JobNotUncertain
    for a job in any other state. The caller commits.
    """
    repository = JobRepository(session)
    job = await repository.requeue_uncertain(job_id, now=now)
    if job is not None:
        return job
    existing = await repository.get_by_id(job_id)
    if existing is None:
        raise JobNotFound(f"no job with id {job_id}", job_id=job_id)
    raise JobNotUncertain(
        f"job {job_id} is {existing.state}; only an uncertain job can be sent again",
        job_id=job_id,
        state=existing.state,
    )

"""Routes of the jobs domain: see the background work and retry what failed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from app.deps import ApiKeyDep, NowDep, SessionDep
from app.errors import ErrorBody, error_responses
from app.jobs import service
from app.jobs.schemas import JobList, JobListParams, JobOut
from app.models import MAX_ID

router = APIRouter(
    prefix="/jobs", tags=["jobs"], dependencies=[ApiKeyDep], responses=error_responses(401)
)

JobId = Annotated[int, Path(ge=1, le=MAX_ID, description="The job's id.")]


@router.get(
    "/",
    response_model=JobList,
    summary="List background jobs",
    responses=error_responses(422),
)
async def list_jobs(session: SessionDep, params: Annotated[JobListParams, Query()]) -> JobList:
    """Jobs newest first, filtered by state and kind, with keyset pagination: pass a
    page's `next_cursor` as `cursor` to get the next one; it carries this page's filters.

    Look here for work that failed: `state=dead` lists the jobs that gave up, each with
    its `last_error`.
    """
    page = await service.list_jobs(session, params)
    jobs = [JobOut.model_validate(job) for job in page.items]
    return JobList(count=len(jobs), jobs=jobs, next_cursor=page.next_cursor)


@router.get(
    "/{job_id}",
    response_model=JobOut,
    summary="One background job",
    responses=error_responses(404, 422),
)
async def get_job(session: SessionDep, job_id: JobId) -> JobOut:
    """The job with this id, with its attempts, last error and result."""
    return JobOut.model_validate(await service.get_job(session, job_id))


@router.post(
    "/{job_id}/retry",
    response_model=JobOut,
    summary="Run a failed job again",
    responses={
        **error_responses(404, 422),
        409: {"model": ErrorBody, "description": "The job is running or done"},
    },
)
async def retry_job(session: SessionDep, now: NowDep, job_id: JobId) -> JobOut:
    """Queue a dead job, or a queued one waiting out its backoff, to run now.

    Its attempts start again from zero. A running or done job answers 409.
    """
    return JobOut.model_validate(await service.retry_job(session, job_id, now=now))


@router.post(
    "/{job_id}/send-again",
    response_model=JobOut,
    summary="Send an uncertain job's message again",
    responses={
        **error_responses(404, 422),
        409: {"model": ErrorBody, "description": "The job is not uncertain"},
    },
)
async def send_again(session: SessionDep, now: NowDep, job_id: JobId) -> JobOut:
    """Queue an `uncertain` send job to send its message now.

    A job is uncertain when a run called Meta and its answer was never recorded (the
    process died, or the answer was lost): the message may already have reached the
    customer, so the job never sends again by itself. Calling this is the decision to
    send anyway. Any other state answers 409.
    """
    return JobOut.model_validate(await service.send_again(session, job_id, now=now))

"""Helpers of the job tests: enqueue committed jobs, read them back, wait for a state."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from app.db import utcnow
from app.jobs.repository import JobRepository
from app.models import Job
from app.runtime import Runtime

Enqueue = Callable[..., Awaitable[Job]]


@pytest.fixture
def enqueue(runtime: Runtime) -> Enqueue:
    """Enqueue a job through the repository and commit it; returns the stored job."""

    async def _enqueue(
        kind: str = "test.echo", payload: dict[str, Any] | None = None, **options: Any
    ) -> Job:
        options.setdefault("max_attempts", 3)
        async with runtime.sessions() as session:
            job = await JobRepository(session).enqueue(kind, payload or {}, **options)
            await session.commit()
        return job

    return _enqueue


async def load_job(runtime: Runtime, job_id: int) -> Job:
    """The job as stored now."""
    async with runtime.sessions() as session:
        job = await JobRepository(session).get_by_id(job_id)
    assert job is not None
    return job


async def claim_one(runtime: Runtime, worker_id: str = "test-worker") -> Job:
    """Claim the next due job as a worker would (so that it is held by `worker_id`)."""
    async with runtime.sessions() as session:
        # At the worker's own time: due jobs are the ones a worker would take now.
        [job] = await JobRepository(session).claim(
            worker_id, now=utcnow(), lease_seconds=300, limit=1
        )
        await session.commit()
    return job


async def wait_for_state(runtime: Runtime, job_id: int, state: str, within: float = 5) -> Job:
    """Poll until the job reaches `state`; fail with its last state after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        job = await load_job(runtime, job_id)
        if job.state == state:
            return job
        if time.monotonic() > deadline:
            pytest.fail(f"job {job_id} is {job.state}, not {state} (last error: {job.last_error})")
        await asyncio.sleep(0.02)

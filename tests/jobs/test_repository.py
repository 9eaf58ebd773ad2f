"""Claiming jobs: due ones only, one worker each, leases, reclaim and conditional outcomes."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from app.db import utcnow
from app.jobs.repository import LEASE_LOST_ERROR, JobRepository
from app.models import Job, JobState
from app.runtime import Runtime
from tests.jobs.conftest import Enqueue, load_job

LEASE = 60.0


async def _claim(
    runtime: Runtime, worker_id: str, *, limit: int = 1, at_offset: float = 0.0
) -> list[Job]:
    async with runtime.sessions() as session:
        jobs = await JobRepository(session).claim(
            worker_id,
            now=utcnow() + timedelta(seconds=at_offset),
            lease_seconds=LEASE,
            limit=limit,
        )
        await session.commit()
    return jobs


async def test_claim_takes_a_due_job_and_leases_it(runtime: Runtime, enqueue: Enqueue) -> None:
    queued = await enqueue()
    before = utcnow()
    [job] = await _claim(runtime, "worker-a")
    assert job.id == queued.id
    assert job.state == JobState.RUNNING
    assert job.locked_by == "worker-a"
    assert job.attempts == 1
    assert job.locked_until is not None
    assert job.locked_until >= before + timedelta(seconds=LEASE)
    stored = await load_job(runtime, queued.id)
    assert (stored.state, stored.locked_by, stored.attempts) == (JobState.RUNNING, "worker-a", 1)


async def test_claim_leaves_jobs_that_are_not_due_yet(runtime: Runtime, enqueue: Enqueue) -> None:
    await enqueue(run_after=utcnow() + timedelta(minutes=5))
    assert await _claim(runtime, "worker-a") == []


async def test_claim_takes_the_oldest_due_job_first(runtime: Runtime, enqueue: Enqueue) -> None:
    later = await enqueue(run_after=utcnow() - timedelta(seconds=1))
    earlier = await enqueue(run_after=utcnow() - timedelta(seconds=10))
    jobs = await _claim(runtime, "worker-a", limit=2)
    assert [job.id for job in jobs] == [earlier.id, later.id]


async def test_leased_job_is_not_claimed_again(runtime: Runtime, enqueue: Enqueue) -> None:
    await enqueue()
    assert len(await _claim(runtime, "worker-a")) == 1
    assert await _claim(runtime, "worker-b") == []


async def test_job_whose_lease_expired_is_reclaimed(runtime: Runtime, enqueue: Enqueue) -> None:
    queued = await enqueue()
    await _claim(runtime, "dead-worker")
    [job] = await _claim(runtime, "worker-b", at_offset=LEASE + 1)
    assert job.id == queued.id
    assert job.locked_by == "worker-b"
    assert job.attempts == 2


async def _bury(runtime: Runtime, *, at_offset: float = 0.0) -> list[Job]:
    async with runtime.sessions() as session:
        jobs = await JobRepository(session).bury_expired_exhausted(
            now=utcnow() + timedelta(seconds=at_offset)
        )
        await session.commit()
    return jobs


async def test_reclaim_never_reruns_a_job_without_attempts_left(
    runtime: Runtime, enqueue: Enqueue
) -> None:
    queued = await enqueue(max_attempts=1)
    await _claim(runtime, "dead-worker")
    assert await _claim(runtime, "worker-b", at_offset=LEASE + 1) == []
    job = await load_job(runtime, queued.id)
    assert (job.state, job.locked_by, job.attempts) == (JobState.RUNNING, "dead-worker", 1)


async def test_expired_job_without_attempts_left_is_buried_saying_its_worker_was_lost(
    runtime: Runtime, enqueue: Enqueue
) -> None:
    queued = await enqueue(max_attempts=1)
    await _claim(runtime, "dead-worker")
    [buried] = await _bury(runtime, at_offset=LEASE + 1)
    assert buried.id == queued.id
    assert buried.state == JobState.DEAD
    job = await load_job(runtime, queued.id)
    assert (job.state, job.locked_by, job.locked_until) == (JobState.DEAD, None, None)
    assert job.last_error == LEASE_LOST_ERROR
    assert "lease expired" in job.last_error
    assert job.finished_at is not None


async def test_only_expired_jobs_without_attempts_left_are_buried(
    runtime: Runtime, enqueue: Enqueue
) -> None:
    with_attempts_left = await enqueue(max_attempts=2)
    await _claim(runtime, "dead-worker")
    exhausted = await enqueue(max_attempts=1)
    await _claim(runtime, "live-worker")
    queued = await enqueue(max_attempts=1)
    assert await _bury(runtime, at_offset=LEASE / 2) == []
    assert [job.id for job in await _bury(runtime, at_offset=LEASE + 1)] == [exhausted.id]
    assert (await load_job(runtime, with_attempts_left.id)).state == JobState.RUNNING
    assert (await load_job(runtime, queued.id)).state == JobState.QUEUED


async def test_concurrent_burials_bury_each_job_once(runtime: Runtime, enqueue: Enqueue) -> None:
    orphans = {(await enqueue(max_attempts=1)).id for _ in range(6)}
    await _claim(runtime, "dead-worker", limit=6)
    burials = await asyncio.gather(*(_bury(runtime, at_offset=LEASE + 1) for _ in range(8)))
    buried = [job.id for jobs in burials for job in jobs]
    assert len(buried) == len(set(buried)) == len(orphans)
    assert set(buried) == orphans


async def test_concurrent_claims_never_take_the_same_job(
    runtime: Runtime, enqueue: Enqueue
) -> None:
    queued = {(await enqueue()).id for _ in range(12)}
    claims = await asyncio.gather(*(_claim(runtime, f"worker-{i}", limit=2) for i in range(8)))
    claimed = [job.id for jobs in claims for job in jobs]
    assert len(claimed) == len(set(claimed)) == len(queued)
    assert set(claimed) == queued


# SQLite has no row locks: there BEGIN IMMEDIATE serialises claims instead.
@pytest.mark.parametrize("backend", ["postgresql"])
async def test_claim_skips_jobs_locked_by_an_open_claim_on_postgresql(
    runtime: Runtime, enqueue: Enqueue
) -> None:
    first, second = await enqueue(), await enqueue()
    async with runtime.sessions() as holding:
        # A claim whose transaction is still open holds its row lock...
        [held] = await JobRepository(holding).claim(
            "worker-a", now=utcnow(), lease_seconds=LEASE, limit=1
        )
        # ...and a concurrent claim neither waits for it nor takes the same job.
        other = await asyncio.wait_for(_claim(runtime, "worker-b", limit=2), timeout=5)
        await holding.commit()
    assert held.id == first.id
    assert [job.id for job in other] == [second.id]


async def _outcome(runtime: Runtime, job_id: int, worker_id: str) -> dict[str, bool]:
    now = utcnow()
    results: dict[str, bool] = {}
    async with runtime.sessions() as session:
        repository = JobRepository(session)
        results["extend_lease"] = await repository.extend_lease(
            job_id, worker_id, until=now + timedelta(seconds=LEASE)
        )
        results["reschedule"] = await repository.reschedule(
            job_id, worker_id, error="x", run_after=now
        )
        results["bury"] = await repository.bury(job_id, worker_id, error="x", now=now)
        results["release"] = await repository.release(job_id, worker_id, now=now)
        results["complete"] = await repository.complete(job_id, worker_id, result={}, now=now)
        await session.rollback()
    return results


async def test_worker_that_lost_its_lease_cannot_record_an_outcome(
    runtime: Runtime, enqueue: Enqueue
) -> None:
    queued = await enqueue()
    await _claim(runtime, "slow-worker")
    await _claim(runtime, "worker-b", at_offset=LEASE + 1)
    assert not any((await _outcome(runtime, queued.id, "slow-worker")).values())
    job = await load_job(runtime, queued.id)
    assert (job.state, job.locked_by) == (JobState.RUNNING, "worker-b")


async def test_complete_records_the_result_and_clears_the_lock(
    runtime: Runtime, enqueue: Enqueue
) -> None:
    queued = await enqueue()
    await _claim(runtime, "worker-a")
    async with runtime.sessions() as db:
        assert await JobRepository(db).complete(
            queued.id, "worker-a", result={"wamid": "wamid.X"}, now=utcnow()
        )
        await db.commit()
    job = await load_job(runtime, queued.id)
    assert job.state == JobState.DONE
    assert job.result == {"wamid": "wamid.X"}
    assert job.finished_at is not None
    assert (job.locked_by, job.locked_until) == (None, None)


async def test_release_requeues_the_job_without_counting_the_attempt(
    runtime: Runtime, enqueue: Enqueue
) -> None:
    queued = await enqueue()
    await _claim(runtime, "worker-a")
    async with runtime.sessions() as db:
        assert await JobRepository(db).release(queued.id, "worker-a", now=utcnow())
        await db.commit()
    job = await load_job(runtime, queued.id)
    assert (job.state, job.attempts, job.locked_by) == (JobState.QUEUED, 0, None)
    assert len(await _claim(runtime, "worker-b")) == 1

"""The worker: outcomes, backoff, wait hints, dead jobs, leases, concurrency and shutdown."""

from __future__ import annotations

import asyncio
import random
from dataclasses import replace
from datetime import timedelta
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import utcnow
from app.jobs import kinds
from app.jobs.exceptions import PermanentJobError, RetryableJobError
from app.jobs.handlers import HANDLERS, ON_DEAD, DeadHook, JobHandler
from app.jobs.repository import JOBS_ENQUEUED, LEASE_LOST_ERROR, JobRepository
from app.jobs.worker import Worker, backoff_seconds
from app.models import Job, JobState
from app.outbound.graph import GraphAPIError
from app.runtime import Runtime
from tests.conftest import ACCESS_TOKEN, PHONE_NUMBER_ID
from tests.jobs.conftest import Enqueue, load_job, wait_for_state

KIND = "test.echo"


def _worker(
    runtime: Runtime,
    handler: JobHandler | None = None,
    *,
    on_dead: DeadHook | None = None,
    concurrency: int = 1,
    shutdown_seconds: float = 5.0,
    **settings: Any,
) -> Worker:
    """A worker with fast polling and `settings` overrides, running `handler` for KIND.

    `on_dead` becomes KIND's dead hook (the real ones when no handler is given).
    """
    overrides = {"worker_poll_seconds": 0.05, "job_backoff_base_seconds": 0.0, **settings}
    configured = replace(runtime, settings=runtime.settings.model_copy(update=overrides))
    handlers = {KIND: handler} if handler is not None else HANDLERS
    return Worker(
        configured,
        handlers=handlers,
        on_dead={KIND: on_dead} if on_dead is not None else ({} if handler else ON_DEAD),
        concurrency=concurrency,
        shutdown_seconds=shutdown_seconds,
        rng=random.Random(7),
    )


def _raising(exc: Exception) -> JobHandler:
    async def handler(_runtime: Runtime, _job: Job) -> dict[str, Any] | None:
        raise exc

    return handler


class DeadHookCalls:
    """A dead hook that records each call with the job's state as its transaction sees it."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, str, str]] = []

    async def __call__(self, session: AsyncSession, job: Job, error: str) -> None:
        state = await session.scalar(select(Job.state).where(Job.id == job.id))
        assert state is not None
        self.calls.append((job.id, state, error))


async def _orphan(runtime: Runtime, enqueue: Enqueue, *, max_attempts: int) -> Job:
    """A job whose worker died during its last allowed attempt: its lease is over."""
    queued = await enqueue(KIND, max_attempts=max_attempts)
    async with runtime.sessions() as session:
        await session.execute(
            update(Job)
            .where(Job.id == queued.id)
            .values(
                state=JobState.RUNNING,
                locked_by="dead-worker",
                locked_until=utcnow() - timedelta(seconds=1),
                attempts=max_attempts,
            )
        )
        await session.commit()
    return await load_job(runtime, queued.id)


async def test_successful_job_is_done_with_its_result(runtime: Runtime, enqueue: Enqueue) -> None:
    async def echo(_runtime: Runtime, job: Job) -> dict[str, Any] | None:
        return {"echo": job.payload["n"]}

    queued = await enqueue(KIND, {"n": 41})
    assert await _worker(runtime, echo).run_once()
    job = await load_job(runtime, queued.id)
    assert (job.state, job.result, job.attempts) == (JobState.DONE, {"echo": 41}, 1)
    assert job.finished_at is not None
    assert job.locked_by is None


async def test_failed_job_is_queued_again_after_a_jittered_backoff(
    runtime: Runtime, enqueue: Enqueue
) -> None:
    queued = await enqueue(KIND)
    before = utcnow()
    await _worker(runtime, _raising(RuntimeError("boom")), job_backoff_base_seconds=10).run_once()
    job = await load_job(runtime, queued.id)
    assert (job.state, job.attempts, job.last_error) == (JobState.QUEUED, 1, "RuntimeError: boom")
    assert before <= job.run_after <= utcnow() + timedelta(seconds=10)
    assert job.locked_by is None


async def test_an_expected_failure_is_retried_and_logged_without_a_traceback(
    runtime: Runtime, enqueue: Enqueue, caplog: pytest.LogCaptureFixture
) -> None:
    queued = await enqueue(KIND)
    failing = _raising(RetryableJobError("the subscriber answered 503"))

    await _worker(runtime, failing, job_backoff_base_seconds=10).run_once()

    job = await load_job(runtime, queued.id)
    assert (job.state, job.last_error) == (JobState.QUEUED, "the subscriber answered 503")
    assert not [r for r in caplog.records if r.exc_info]


@pytest.mark.parametrize("attempt", [1, 2, 3, 6, 12, 30])
def test_backoff_is_full_jitter_below_an_exponential_ceiling(attempt: int) -> None:
    rng = random.Random(attempt)
    ceiling = min(3600.0, 2.0 * 2 ** (attempt - 1))
    waits = [backoff_seconds(attempt, base=2.0, cap=3600.0, rng=rng) for _ in range(500)]
    assert all(0.0 <= wait <= ceiling for wait in waits)
    # Spread over the whole range, so jobs that failed together come back apart.
    assert min(waits) < ceiling * 0.1
    assert max(waits) > ceiling * 0.9


async def test_job_is_dead_after_its_last_attempt_with_the_last_error(
    runtime: Runtime, enqueue: Enqueue
) -> None:
    async def failing(_runtime: Runtime, job: Job) -> dict[str, Any] | None:
        raise RuntimeError(f"failure on attempt {job.attempts}")

    queued = await enqueue(KIND, max_attempts=3)
    worker = _worker(runtime, failing)
    assert [await worker.run_once() for _ in range(4)] == [True, True, True, False]
    job = await load_job(runtime, queued.id)
    assert job.state == JobState.DEAD
    assert job.attempts == 3
    assert job.last_error == "RuntimeError: failure on attempt 3"
    assert job.finished_at is not None


async def test_worker_retries_a_failing_job_until_it_succeeds(
    runtime: Runtime, enqueue: Enqueue
) -> None:
    async def flaky(_runtime: Runtime, job: Job) -> dict[str, Any] | None:
        if job.attempts < 3:
            raise GraphAPIError("(#131000) Something went wrong", code=131000, retryable=True)
        return {"attempt": job.attempts}

    queued = await enqueue(KIND, max_attempts=5)
    worker = _worker(runtime, flaky, job_backoff_base_seconds=0.01)
    await worker.start()
    try:
        job = await wait_for_state(runtime, queued.id, JobState.DONE)
    finally:
        await worker.stop()
    assert (job.attempts, job.result) == (3, {"attempt": 3})
    assert job.last_error == "Graph API error 131000: (#131000) Something went wrong"


async def test_permanent_error_makes_the_job_dead_at_once(
    runtime: Runtime, enqueue: Enqueue
) -> None:
    queued = await enqueue(KIND, max_attempts=5)
    await _worker(runtime, _raising(PermanentJobError("file is over 5 MB"))).run_once()
    job = await load_job(runtime, queued.id)
    assert (job.state, job.attempts, job.last_error) == (JobState.DEAD, 1, "file is over 5 MB")


async def test_graph_error_that_a_retry_cannot_fix_makes_the_job_dead_at_once(
    runtime: Runtime, enqueue: Enqueue
) -> None:
    error = GraphAPIError("(#131047) Re-engagement message", code=131047, retryable=False)
    queued = await enqueue(KIND, max_attempts=5)
    await _worker(runtime, _raising(error)).run_once()
    job = await load_job(runtime, queued.id)
    assert job.state == JobState.DEAD
    assert job.last_error == "Graph API error 131047: (#131047) Re-engagement message"


async def test_retry_waits_as_long_as_meta_asks(runtime: Runtime, enqueue: Enqueue) -> None:
    error = GraphAPIError(
        "(#131056) pair rate limit hit", code=131056, retryable=True, retry_after=6.0
    )
    queued = await enqueue(KIND, max_attempts=5)
    before = utcnow()
    await _worker(runtime, _raising(error), job_backoff_base_seconds=0.0).run_once()
    job = await load_job(runtime, queued.id)
    assert job.state == JobState.QUEUED
    assert before + timedelta(seconds=6) <= job.run_after <= utcnow() + timedelta(seconds=6)


async def test_job_of_an_unknown_kind_goes_dead_saying_so(
    runtime: Runtime, enqueue: Enqueue
) -> None:
    queued = await enqueue("nobody.handles.this")
    assert await _worker(runtime, _raising(RuntimeError("unused"))).run_once()
    job = await load_job(runtime, queued.id)
    assert job.state == JobState.DEAD
    assert job.last_error == "no handler for job kind 'nobody.handles.this'"


async def test_long_job_renews_its_lease_so_no_other_worker_takes_it(
    runtime: Runtime, enqueue: Enqueue
) -> None:
    async def slow(_runtime: Runtime, _job: Job) -> dict[str, Any] | None:
        await asyncio.sleep(1.0)
        return None

    queued = await enqueue(KIND)
    worker = _worker(runtime, slow, job_lease_seconds=0.3)
    running = asyncio.create_task(worker.run_once())
    await asyncio.sleep(0.7)  # more than two leases
    async with runtime.sessions() as session:
        stolen = await JobRepository(session).claim(
            "other-worker", now=utcnow(), lease_seconds=0.3, limit=1
        )
        await session.commit()
    await running
    assert stolen == []
    job = await load_job(runtime, queued.id)
    assert (job.state, job.attempts) == (JobState.DONE, 1)


async def test_stop_waits_for_running_jobs_to_finish(runtime: Runtime, enqueue: Enqueue) -> None:
    async def brief(_runtime: Runtime, _job: Job) -> dict[str, Any] | None:
        await asyncio.sleep(0.3)
        return {"finished": True}

    queued = await enqueue(KIND)
    worker = _worker(runtime, brief, shutdown_seconds=5)
    await worker.start()
    await wait_for_state(runtime, queued.id, JobState.RUNNING)
    await worker.stop()
    job = await load_job(runtime, queued.id)
    assert (job.state, job.result) == (JobState.DONE, {"finished": True})


async def test_stop_releases_jobs_that_do_not_finish_in_time(
    runtime: Runtime, enqueue: Enqueue
) -> None:
    cancelled = asyncio.Event()

    async def stuck(_runtime: Runtime, _job: Job) -> dict[str, Any] | None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return None

    queued = await enqueue(KIND)
    worker = _worker(runtime, stuck, shutdown_seconds=0.1)
    await worker.start()
    await wait_for_state(runtime, queued.id, JobState.RUNNING)
    await worker.stop()
    assert cancelled.is_set()
    job = await load_job(runtime, queued.id)
    # Back in the queue, due now, its interrupted attempt not counted.
    assert (job.state, job.attempts, job.locked_by) == (JobState.QUEUED, 0, None)
    assert job.run_after <= utcnow()
    await asyncio.sleep(0.2)
    assert (await load_job(runtime, queued.id)).state == JobState.QUEUED


async def test_worker_runs_jobs_concurrently(runtime: Runtime, enqueue: Enqueue) -> None:
    together = asyncio.Barrier(3)

    async def meet(_runtime: Runtime, _job: Job) -> dict[str, Any] | None:
        # Passes only when three jobs run at the same time.
        await asyncio.wait_for(together.wait(), timeout=3)
        return None

    queued = [await enqueue(KIND, max_attempts=1) for _ in range(3)]
    worker = _worker(runtime, meet, concurrency=3)
    await worker.start()
    try:
        for job in queued:
            await wait_for_state(runtime, job.id, JobState.DONE)
    finally:
        await worker.stop()


async def test_enqueued_job_wakes_an_idle_worker_before_its_next_poll(
    runtime: Runtime, enqueue: Enqueue
) -> None:
    async def echo(_runtime: Runtime, _job: Job) -> dict[str, Any] | None:
        return None

    worker = _worker(runtime, echo, worker_poll_seconds=30)
    await worker.start()
    try:
        await asyncio.sleep(0.2)  # the worker found nothing and sleeps for 30 s
        queued = await enqueue(KIND)
        await wait_for_state(runtime, queued.id, JobState.DONE, within=3)
    finally:
        await worker.stop()


async def test_an_idle_worker_asks_for_jobs_once_per_poll_not_once_per_slot(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def echo(_runtime: Runtime, _job: Job) -> dict[str, Any] | None:
        return None

    worker = _worker(runtime, echo, concurrency=4, worker_poll_seconds=0.05)
    polls = 0
    run_once = worker.run_once

    async def counted() -> bool:
        nonlocal polls
        polls += 1
        return await run_once()

    monkeypatch.setattr(worker, "run_once", counted)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await worker.start()
    try:
        await asyncio.sleep(0.5)
    finally:
        await worker.stop()
    intervals = (loop.time() - started) / 0.05

    # Every slot looks once as it starts; after that, one look per interval (one per
    # slot would be four).
    assert 4 < polls <= 4 + intervals + 1


async def test_a_job_found_by_the_polling_slot_wakes_the_others_for_the_rest(
    runtime: Runtime,
) -> None:
    together = asyncio.Barrier(3)

    async def meet(_runtime: Runtime, _job: Job) -> dict[str, Any] | None:
        await asyncio.wait_for(together.wait(), timeout=3)
        return None

    worker = _worker(runtime, meet, concurrency=3, worker_poll_seconds=0.05)
    await worker.start()
    try:
        await asyncio.sleep(0.2)  # all three slots are idle; one of them polls
        async with runtime.sessions() as session:
            queued = [
                await JobRepository(session).enqueue(KIND, {}, max_attempts=1) for _ in range(3)
            ]
            # Committed as another process would: nothing here wakes the worker.
            session.info.pop(JOBS_ENQUEUED)
            await session.commit()
        for job in queued:
            await wait_for_state(runtime, job.id, JobState.DONE, within=3)
    finally:
        await worker.stop()


async def test_read_receipt_job_marks_the_message_read_at_meta(
    runtime: Runtime, enqueue: Enqueue, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(
        f"https://graph.facebook.com/{runtime.settings.whatsapp_api_version}"
        f"/{PHONE_NUMBER_ID}/messages"
    ).mock(return_value=httpx.Response(200, json={"success": True}))
    queued = await enqueue(
        kinds.READ_RECEIPT, {"message_id": "wamid.IN1", "phone_number_id": PHONE_NUMBER_ID}
    )
    assert await _worker(runtime).run_once()
    job = await load_job(runtime, queued.id)
    assert (job.state, job.result) == (JobState.DONE, {"success": True})
    request = route.calls.last.request
    assert request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert request.read() == (
        b'{"messaging_product":"whatsapp","status":"read","message_id":"wamid.IN1"}'
    )


async def test_read_receipt_job_without_a_message_id_goes_dead(
    runtime: Runtime, enqueue: Enqueue
) -> None:
    queued = await enqueue(kinds.READ_RECEIPT, {"phone_number_id": PHONE_NUMBER_ID})
    assert await _worker(runtime).run_once()
    job = await load_job(runtime, queued.id)
    assert (job.state, job.last_error) == (JobState.DEAD, "read receipt job without a message_id")


async def test_dead_hook_runs_once_with_the_last_error_in_the_burying_transaction(
    runtime: Runtime, enqueue: Enqueue
) -> None:
    async def failing(_runtime: Runtime, job: Job) -> dict[str, Any] | None:
        raise RuntimeError(f"failure on attempt {job.attempts}")

    hook = DeadHookCalls()
    queued = await enqueue(KIND, max_attempts=2)
    worker = _worker(runtime, failing, on_dead=hook)
    assert await worker.run_once()
    # A retry is scheduled: the job is not dead, so the hook has not run.
    assert hook.calls == []
    assert await worker.run_once()
    assert hook.calls == [(queued.id, JobState.DEAD, "RuntimeError: failure on attempt 2")]
    assert not await worker.run_once()
    assert len(hook.calls) == 1


async def test_dead_hook_runs_for_a_permanent_error(runtime: Runtime, enqueue: Enqueue) -> None:
    hook = DeadHookCalls()
    queued = await enqueue(KIND, max_attempts=5)
    await _worker(
        runtime, _raising(PermanentJobError("file is over 5 MB")), on_dead=hook
    ).run_once()
    assert hook.calls == [(queued.id, JobState.DEAD, "file is over 5 MB")]


async def test_worker_that_lost_its_lease_runs_no_dead_hook(
    runtime: Runtime, enqueue: Enqueue
) -> None:
    async def reclaimed_meanwhile(runtime: Runtime, job: Job) -> dict[str, Any] | None:
        async with runtime.sessions() as session:
            await session.execute(
                update(Job).where(Job.id == job.id).values(locked_by="other-worker")
            )
            await session.commit()
        raise PermanentJobError("too late")

    hook = DeadHookCalls()
    queued = await enqueue(KIND)
    await _worker(runtime, reclaimed_meanwhile, on_dead=hook).run_once()
    assert hook.calls == []
    job = await load_job(runtime, queued.id)
    assert (job.state, job.locked_by) == (JobState.RUNNING, "other-worker")


async def test_job_whose_worker_died_on_its_last_attempt_is_buried_once_by_racing_workers(
    runtime: Runtime, enqueue: Enqueue
) -> None:
    hook = DeadHookCalls()
    orphans = [await _orphan(runtime, enqueue, max_attempts=n) for n in (1, 3)]
    workers = [
        _worker(runtime, _raising(RuntimeError("never runs")), on_dead=hook) for _ in range(4)
    ]
    claimed = await asyncio.gather(*(worker.run_once() for worker in workers))
    assert claimed == [False] * len(workers)
    assert sorted(hook.calls) == [(job.id, JobState.DEAD, LEASE_LOST_ERROR) for job in orphans]
    for orphan in orphans:
        job = await load_job(runtime, orphan.id)
        assert (job.state, job.last_error, job.attempts) == (
            JobState.DEAD,
            LEASE_LOST_ERROR,
            orphan.attempts,
        )


async def test_job_reclaimed_with_attempts_left_runs_again_without_its_dead_hook(
    runtime: Runtime, enqueue: Enqueue
) -> None:
    async def echo(_runtime: Runtime, job: Job) -> dict[str, Any] | None:
        return {"attempt": job.attempts}

    hook = DeadHookCalls()
    queued = await enqueue(KIND, max_attempts=3)
    async with runtime.sessions() as session:
        await JobRepository(session).claim("dead-worker", now=utcnow(), lease_seconds=-1)
        await session.commit()
    assert await _worker(runtime, echo, on_dead=hook).run_once()
    assert hook.calls == []
    job = await load_job(runtime, queued.id)
    assert (job.state, job.result) == (JobState.DONE, {"attempt": 2})


async def test_failing_dead_hook_rolls_back_its_writes_and_the_job_stays_dead(
    runtime: Runtime, enqueue: Enqueue
) -> None:
    async def broken(session: AsyncSession, job: Job, _error: str) -> None:
        await session.execute(update(Job).where(Job.id == job.id).values(result={"hook": 1}))
        raise RuntimeError("hook bug")

    queued = await enqueue(KIND, max_attempts=5)
    orphan = await _orphan(runtime, enqueue, max_attempts=1)
    worker = _worker(runtime, _raising(PermanentJobError("no")), on_dead=broken)
    # Burying the orphan fails its hook, yet the worker goes on to claim and run a job.
    assert await worker.run_once()
    for job_id, error in ((orphan.id, LEASE_LOST_ERROR), (queued.id, "no")):
        job = await load_job(runtime, job_id)
        assert (job.state, job.last_error, job.result) == (JobState.DEAD, error, None)

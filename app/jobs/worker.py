"""The worker: claims due jobs, runs their handlers, records each outcome.

It runs inside the web process by default (settings.worker_enabled) and as the
`whatsapp-inbox worker` command for scale; any number of workers share one database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import signal
import socket
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from app.changes import bodies
from app.changes.repository import ChangeRepository
from app.config import Settings
from app.db import utcnow
from app.jobs.exceptions import PermanentJobError, RetryableJobError, UncertainJobError
from app.jobs.handlers import HANDLERS, ON_DEAD, DeadHook, JobHandler, schedules
from app.jobs.repository import JOBS_ENQUEUED, LEASE_LOST_ERROR, JobRepository
from app.log import about_job, install_redaction
from app.models import Job
from app.outage import is_database_unavailable
from app.outbound.graph import GraphAPIError
from app.runtime import Runtime
from app.subscriptions.dispatcher import Dispatcher

logger = logging.getLogger(__name__)

MAX_ERROR_LENGTH = 2000
DEFAULT_SHUTDOWN_SECONDS = 10.0
# The longest a claiming loop waits between tries while the database is unavailable.
OUTAGE_BACKOFF_MAX_SECONDS = 30.0
# How often each process looks whether a periodic job is due, at most.
SCHEDULE_CHECK_SECONDS = 300.0


def backoff_seconds(attempt: int, *, base: float, cap: float, rng: random.Random) -> float:
    """The wait before retrying after failed attempt number `attempt` (1-based).

    Exponential with full jitter: uniform in [0, min(cap, base * 2^(attempt-1))], so
    jobs that failed together (Meta was down) do not all come back at the same moment.
    """
    ceiling = min(cap, base * 2 ** max(0, attempt - 1))
    return rng.uniform(0.0, ceiling)


def describe_error(exc: BaseException) -> str:
    """The text kept in a job's last_error; bounded, and never holding the token."""
    if isinstance(exc, GraphAPIError | PermanentJobError | UncertainJobError | RetryableJobError):
        text = str(exc)
    else:
        text = f"{type(exc).__name__}: {exc}"
    return text[:MAX_ERROR_LENGTH]


def new_worker_id() -> str:
    """A name unique to this worker: host, process and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Worker:
    """Runs `concurrency` loops that each claim one job at a time and run it.

    Each running job's lease is renewed (a heartbeat every third of the lease) while its
    handler runs, so a slow download is not taken for a dead worker's job; if the worker
    dies, the lease runs out and another worker reclaims the job (or buries it, when that
    was its last attempt). Whenever a job goes dead, the `on_dead` hook of its kind runs
    in the same transaction.
    """

    def __init__(
        self,
        runtime: Runtime,
        *,
        handlers: Mapping[str, JobHandler] = HANDLERS,
        on_dead: Mapping[str, DeadHook] = ON_DEAD,
        periodic: Callable[[Settings], Mapping[str, float]] = schedules,
        concurrency: int | None = None,
        worker_id: str | None = None,
        shutdown_seconds: float = DEFAULT_SHUTDOWN_SECONDS,
        rng: random.Random | None = None,
    ) -> None:
        settings = runtime.settings
        self.runtime = runtime
        self.handlers = handlers
        self.on_dead = on_dead
        # Periodic kinds this worker can run (a worker given other handlers runs none).
        self.periodic = {k: v for k, v in periodic(settings).items() if k in handlers}
        self.concurrency = max(1, concurrency or settings.worker_concurrency)
        self.worker_id = worker_id or new_worker_id()
        self.shutdown_seconds = shutdown_seconds
        self.rng = rng or random.Random()
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._slots: list[asyncio.Task[None]] = []
        self._held: set[int] = set()
        # Whether an idle slot already looks for jobs every poll interval.
        self._polling = False

    @property
    def settings(self) -> Settings:
        """The settings of the runtime this worker uses."""
        return self.runtime.settings

    # -- lifecycle -----------------------------------------------------------------

    async def start(self) -> None:
        """Start the claiming loops in the background."""
        event.listen(Session, "after_commit", self._after_commit)
        self._slots = [
            asyncio.create_task(self._slot(), name=f"job-worker-{i}")
            for i in range(self.concurrency)
        ]
        self._slots += [
            asyncio.create_task(self._schedule(kind, every), name=f"job-schedule-{kind}")
            for kind, every in self.periodic.items()
        ]
        logger.info("job worker %s started (%d concurrent jobs)", self.worker_id, self.concurrency)

    async def stop(self) -> None:
        """Stop claiming, let running jobs finish for a bounded time, release the rest.

        A released job is queued again at once without counting the attempt, so the
        next worker (or this one after a restart) runs it.
        """
        self._stopping.set()
        self._wake.set()
        if event.contains(Session, "after_commit", self._after_commit):
            event.remove(Session, "after_commit", self._after_commit)
        if self._slots:
            _done, pending = await asyncio.wait(self._slots, timeout=self.shutdown_seconds)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        self._slots = []
        for job_id in sorted(self._held):
            await self._release(job_id)
        self._held.clear()
        logger.info("job worker %s stopped", self.worker_id)

    def _after_commit(self, session: Session) -> None:
        # Called for every session commit in this process; only a commit on this
        # runtime's database that enqueued jobs wakes the worker.
        if session.bind is self.runtime.engine.sync_engine and session.info.pop(
            JOBS_ENQUEUED, False
        ):
            self._wake.set()

    # -- the loop ------------------------------------------------------------------

    async def _slot(self) -> None:
        outage_failures = 0
        while not self._stopping.is_set():
            try:
                found = await self.run_once()
            except Exception as exc:
                if self._database_unavailable(exc):
                    # Wait longer after each failure, so that an outage costs neither a
                    # busy loop nor a stampede of reconnections when it ends.
                    outage_failures += 1
                    await self._idle(
                        backoff_seconds(
                            outage_failures,
                            base=self.settings.worker_poll_seconds,
                            cap=OUTAGE_BACKOFF_MAX_SECONDS,
                            rng=self.rng,
                        )
                    )
                    continue
                logger.exception("job worker %s could not claim jobs", self.worker_id)
                found = False
            outage_failures = 0
            if not found:
                await self._wait_for_work()

    async def _schedule(self, kind: str, every: float) -> None:
        """Enqueue a job of `kind` whenever none was created in the last `every` seconds."""
        while not self._stopping.is_set():
            now = self.runtime.clock()
            try:
                async with self.runtime.sessions() as session:
                    await JobRepository(session).enqueue_unless_recent(
                        kind,
                        since=now - timedelta(seconds=every),
                        now=now,
                        max_attempts=self.settings.job_max_attempts,
                    )
                    await session.commit()
            except Exception as exc:
                if not self._database_unavailable(exc):
                    logger.exception("job worker %s could not schedule %s", self.worker_id, kind)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._stopping.wait(), timeout=min(every, SCHEDULE_CHECK_SECONDS)
                )

    def _database_unavailable(self, exc: BaseException) -> bool:
        """True for an outage, which the process's tracker then logs (once per outage)."""
        if not is_database_unavailable(exc):
            return False
        self.runtime.outage.failed(exc)
        return True

    async def _wait_for_work(self) -> None:
        """Wait, with nothing to run, until there may be a job.

        One idle slot looks again every poll interval, for jobs that other processes
        enqueue or that come due; the others wait until woken (a commit in this process
        that enqueued jobs, or a slot that found one, as there may be more), so an idle
        process asks the database once per interval, not once per slot.
        """
        if self._polling:
            await self._idle(None)
            return
        self._polling = True
        try:
            await self._idle(self.settings.worker_poll_seconds)
        finally:
            self._polling = False

    async def _idle(self, seconds: float | None) -> None:
        """Wait `seconds` (None: as long as it takes), or until woken or stopped.

        A commit in this process that enqueues jobs wakes the loops; after an outage that
        is also the first sign the database is back.
        """
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)
        self._wake.clear()

    async def run_once(self) -> bool:
        """Claim one due job and run it to its recorded outcome; False if none was due.

        First, in the same transaction, jobs whose worker died during their last attempt
        are buried (with their dead hooks), so they never run again.
        """
        if self._stopping.is_set():
            return False
        async with self.runtime.sessions() as session:
            repository = JobRepository(session)
            now = utcnow()
            for dead in await repository.bury_expired_exhausted(now=now):
                logger.error(
                    "job %s (%s) is dead after attempt %d: %s",
                    dead.id,
                    dead.kind,
                    dead.attempts,
                    LEASE_LOST_ERROR,
                )
                await self._on_dead(session, dead, LEASE_LOST_ERROR)
            jobs = await repository.claim(
                self.worker_id,
                now=now,
                lease_seconds=self.settings.job_lease_seconds,
                limit=1,
            )
            await session.commit()
        self.runtime.outage.succeeded()
        if not jobs:
            return False
        # There may be more: let idle siblings look too.
        self._wake.set()
        job = jobs[0]
        message_id = job.payload.get("message_id") if isinstance(job.payload, dict) else None
        with about_job(job.id, message_id if isinstance(message_id, str) else None):
            await self._execute(job)
        return True

    async def _execute(self, job: Job) -> None:
        self._held.add(job.id)
        heartbeat = asyncio.create_task(self._heartbeat(job.id))
        try:
            handler = self.handlers.get(job.kind)
            if handler is None:
                raise PermanentJobError(f"no handler for job kind {job.kind!r}")
            result = await handler(self.runtime, job)
        except Exception as exc:
            await self._stop_heartbeat(heartbeat)
            await self._record(self._record_failure(job, exc), job)
        else:
            await self._stop_heartbeat(heartbeat)
            await self._record(self._record_success(job, result), job)
        finally:
            # Cancelled (shutdown): the heartbeat stops and stop() releases the job.
            heartbeat.cancel()
        self._held.discard(job.id)

    @staticmethod
    async def _stop_heartbeat(heartbeat: asyncio.Task[None]) -> None:
        # Wait for it to end (it may be renewing the lease right now) without taking
        # its CancelledError for one aimed at this task.
        heartbeat.cancel()
        await asyncio.wait([heartbeat])

    async def _record(self, recording: Awaitable[None], job: Job) -> None:
        try:
            await recording
        except Exception as exc:
            # The job stays running under this worker's expiring lease; another worker
            # reclaims and reruns it, which handlers are written to survive.
            if self._database_unavailable(exc):
                logger.warning("could not record the outcome of job %s: no database", job.id)
            else:
                logger.exception("could not record the outcome of job %s", job.id)

    async def _heartbeat(self, job_id: int) -> None:
        lease = self.settings.job_lease_seconds
        while True:
            await asyncio.sleep(lease / 3)
            try:
                async with self.runtime.sessions() as session:
                    held = await JobRepository(session).extend_lease(
                        job_id, self.worker_id, until=utcnow() + timedelta(seconds=lease)
                    )
                    await session.commit()
            except Exception as exc:
                if self._database_unavailable(exc):
                    logger.warning("could not renew the lease of job %s: no database", job_id)
                else:
                    logger.exception("could not renew the lease of job %s", job_id)
                continue
            if not held:
                logger.warning("job %s is no longer held by worker %s", job_id, self.worker_id)
                return

    async def _record_success(self, job: Job, result: dict[str, Any] | None) -> None:
        async with self.runtime.sessions() as session:
            recorded = await JobRepository(session).complete(
                job.id, self.worker_id, result=result, now=utcnow()
            )
            await session.commit()
        if recorded:
            logger.info("job %s (%s) done on attempt %d", job.id, job.kind, job.attempts)
        else:
            logger.warning("job %s finished after its lease was lost; outcome not recorded", job.id)

    async def _record_uncertain(self, job: Job, error: str) -> None:
        async with self.runtime.sessions() as session:
            recorded = await JobRepository(session).mark_uncertain(
                job.id, self.worker_id, error=error, now=utcnow()
            )
            await session.commit()
        if recorded:
            logger.error("job %s (%s) is uncertain: %s", job.id, job.kind, error)
        else:
            logger.warning("job %s ended after its lease was lost; outcome not recorded", job.id)

    async def _record_failure(self, job: Job, exc: Exception) -> None:
        error = describe_error(exc)
        if isinstance(exc, UncertainJobError):
            # Never retried by itself: only a person may choose to send again.
            await self._record_uncertain(job, error)
            return
        if isinstance(exc, PermanentJobError):
            retry, wait_hint = False, None
        elif isinstance(exc, GraphAPIError):
            retry, wait_hint = exc.retryable, exc.retry_after
        elif isinstance(exc, RetryableJobError):
            retry, wait_hint = True, None
        else:
            retry, wait_hint = True, None
            if not self._database_unavailable(exc):
                logger.exception("job %s (%s) raised an unexpected error", job.id, job.kind)
        now = utcnow()
        async with self.runtime.sessions() as session:
            repository = JobRepository(session)
            if retry and job.attempts < job.max_attempts:
                delay = (
                    wait_hint
                    if wait_hint is not None
                    else backoff_seconds(
                        job.attempts,
                        base=self.settings.job_backoff_base_seconds,
                        cap=self.settings.job_backoff_max_seconds,
                        rng=self.rng,
                    )
                )
                await repository.reschedule(
                    job.id, self.worker_id, error=error, run_after=now + timedelta(seconds=delay)
                )
                logger.warning(
                    "job %s (%s) failed on attempt %d of %d, retrying in %.1fs: %s",
                    job.id,
                    job.kind,
                    job.attempts,
                    job.max_attempts,
                    delay,
                    error,
                )
            elif await repository.bury(job.id, self.worker_id, error=error, now=now):
                logger.error(
                    "job %s (%s) is dead after attempt %d: %s",
                    job.id,
                    job.kind,
                    job.attempts,
                    error,
                )
                await self._on_dead(session, job, error)
            else:
                logger.warning(
                    "job %s failed after its lease was lost; outcome not recorded", job.id
                )
            await session.commit()

    async def _on_dead(self, session: AsyncSession, job: Job, error: str) -> None:
        """Record the job.dead event and run the dead hook of the job's kind, in the
        transaction that buried the job."""
        # Read before the hook: rolling its savepoint back expires what it changed.
        job_id, kind = job.id, job.kind
        change = bodies.job_dead(job_id, kind, job.attempts, error, job.payload)
        hook = self.on_dead.get(kind)
        if hook is not None:
            try:
                async with session.begin_nested():
                    await hook(session, job, error)
            except Exception:
                # Only the hook's writes roll back: the job stays dead, and a broken hook
                # can neither keep it running nor stop this worker from claiming.
                logger.exception("the dead hook of job %s (%s) failed", job_id, kind)
        await ChangeRepository(session).add(change, now=utcnow())

    async def _release(self, job_id: int) -> None:
        try:
            async with self.runtime.sessions() as session:
                await JobRepository(session).release(job_id, self.worker_id, now=utcnow())
                await session.commit()
        except Exception as exc:
            # Not fatal: the lease expires and another worker reclaims the job.
            if self._database_unavailable(exc):
                logger.warning("could not release job %s: no database", job_id)
            else:
                logger.exception("could not release job %s", job_id)


async def run_worker(settings: Settings) -> None:
    """Run a worker process until SIGTERM or SIGINT, then shut it down cleanly."""
    install_redaction()
    runtime = Runtime.create(settings)
    await runtime.changes.start()
    worker = Worker(runtime)
    dispatcher = Dispatcher(runtime)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await worker.start()
    await dispatcher.start()
    try:
        await stop.wait()
    finally:
        await dispatcher.stop()
        await worker.stop()
        await runtime.close()

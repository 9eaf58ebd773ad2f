"""SQL for the jobs table (the outbox): enqueue, claim, bury, record outcomes, list, retry.

Every state change a worker makes is conditional on the job still being `running` and
locked by that worker, so a worker whose lease expired (and whose job another worker
reclaimed) can never overwrite the newer run's outcome.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, and_, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from app.chunks import chunks
from app.db import utcnow
from app.models import Job, JobState

_jobs = cast(Table, Job.__table__)

# Set in session.info by enqueue(); a worker in the same process wakes up on commit.
JOBS_ENQUEUED = "jobs_enqueued"

LEASE_LOST_ERROR = (
    "the worker running this job stopped before finishing it (lease expired), "
    "and no attempts are left"
)


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
        self.session.info[JOBS_ENQUEUED] = True
        return job

    async def enqueue_unless_recent(
        self, kind: str, *, since: datetime, now: datetime, max_attempts: int
    ) -> bool:
        """Enqueue a job of `kind` (empty payload) unless one was created since `since`.

        For periodic work: each process checks, and the first to find none due enqueues
        it. Two that check at the same moment may both enqueue; periodic handlers are
        idempotent, so that costs one extra run.
        """
        recent = await self.session.scalar(
            select(Job.id).where(Job.kind == kind, Job.created_at >= since).limit(1)
        )
        if recent is not None:
            return False
        self.session.add(
            Job(
                kind=kind,
                payload={},
                state=JobState.QUEUED,
                max_attempts=max_attempts,
                run_after=now,
                created_at=now,
                updated_at=now,
            )
        )
        await self.session.flush()
        self.session.info[JOBS_ENQUEUED] = True
        return True

    async def enqueue_many(
        self,
        kind: str,
        payloads: list[dict[str, Any]],
        *,
        max_attempts: int,
        run_after: datetime,
    ) -> None:
        """Add queued jobs of one kind to the current transaction, in bounded batches."""
        if not payloads:
            return
        rows = [
            {
                "kind": kind,
                "payload": payload,
                "state": JobState.QUEUED,
                "attempts": 0,
                "max_attempts": max_attempts,
                "run_after": run_after,
                "created_at": run_after,
                "updated_at": run_after,
            }
            for payload in payloads
        ]
        for batch in chunks(rows):
            await self.session.execute(insert(_jobs), list(batch))
        self.session.info[JOBS_ENQUEUED] = True

    async def get_by_id(self, job_id: int) -> Job | None:
        """The job with this id, or None."""
        return await self.session.get(Job, job_id)

    def _mine(self, job_id: int, worker_id: str) -> ColumnElement[bool]:
        return and_(
            Job.id == job_id,
            Job.state == JobState.RUNNING,
            Job.locked_by == worker_id,
        )

    async def _let_go(self, job_id: int, worker_id: str, **values: Any) -> bool:
        """Set `values` on a job this worker holds and give up its lease, in one
        conditional UPDATE; False if the worker no longer holds it."""
        updated = await self.session.execute(
            update(Job)
            .where(self._mine(job_id, worker_id))
            .values(**values, locked_by=None, locked_until=None)
            .returning(Job.id)
        )
        return updated.scalar_one_or_none() is not None

    async def bury_expired_exhausted(self, *, now: datetime) -> list[Job]:
        """Mark dead the running jobs whose lease expired with no attempts left; return them.

        Their worker died during the last attempt, so the job must not run again (a job
        that kills its worker every time must not loop forever). One conditional UPDATE
        whose candidates are locked with FOR UPDATE SKIP LOCKED on PostgreSQL (BEGIN
        IMMEDIATE serialises it on SQLite), so of workers calling this at once exactly
        one buries each job and gets it back. The caller commits.
        """
        expired_exhausted = and_(
            Job.state == JobState.RUNNING,
            Job.locked_until < now,
            Job.attempts >= Job.max_attempts,
        )
        candidates = select(Job.id).where(expired_exhausted).with_for_update(skip_locked=True)
        result = await self.session.execute(
            update(Job)
            .where(Job.id.in_(candidates.scalar_subquery()), expired_exhausted)
            .values(
                state=JobState.DEAD,
                locked_by=None,
                locked_until=None,
                finished_at=now,
                last_error=LEASE_LOST_ERROR,
            )
            .returning(Job)
            .execution_options(populate_existing=True)
        )
        return sorted(result.scalars().all(), key=lambda job: job.id)

    async def claim(
        self, worker_id: str, *, now: datetime, lease_seconds: float, limit: int = 1
    ) -> list[Job]:
        """Take up to `limit` due jobs for `worker_id`, leased until now + lease_seconds.

        Due means queued with run_after <= now, or running with an expired lease (its
        worker died) and attempts left; an expired job without attempts left is never
        run again but buried by bury_expired_exhausted. On PostgreSQL the candidates are
        locked with FOR UPDATE SKIP LOCKED, so concurrent workers never wait for each
        other nor take the same job; on SQLite the transaction is BEGIN IMMEDIATE, which
        serialises claims. The caller commits.
        """
        due = or_(
            and_(Job.state == JobState.QUEUED, Job.run_after <= now),
            and_(
                Job.state == JobState.RUNNING,
                Job.locked_until < now,
                Job.attempts < Job.max_attempts,
            ),
        )
        candidates = await self.session.execute(
            select(Job.id)
            .where(due)
            .order_by(Job.run_after, Job.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        claim_ids = list(candidates.scalars().all())
        if not claim_ids:
            return []
        result = await self.session.execute(
            update(Job)
            .where(Job.id.in_(claim_ids))
            .values(
                state=JobState.RUNNING,
                locked_by=worker_id,
                locked_until=now + timedelta(seconds=lease_seconds),
                attempts=Job.attempts + 1,
            )
            .returning(Job)
            .execution_options(populate_existing=True)
        )
        return sorted(result.scalars().all(), key=lambda job: (job.run_after, job.id))

    async def extend_lease(self, job_id: int, worker_id: str, *, until: datetime) -> bool:
        """Push the lease of a job this worker still holds; False if it is no longer held."""
        result = await self.session.execute(
            update(Job)
            .where(self._mine(job_id, worker_id))
            .values(locked_until=until)
            .returning(Job.id)
        )
        return result.scalar_one_or_none() is not None

    async def complete(
        self, job_id: int, worker_id: str, *, result: dict[str, Any] | None, now: datetime
    ) -> bool:
        """Mark a held job done with its result; False if this worker no longer holds it."""
        return await self._let_go(
            job_id,
            worker_id,
            state=JobState.DONE,
            result=result,
            finished_at=now,
        )

    async def reschedule(
        self, job_id: int, worker_id: str, *, error: str, run_after: datetime
    ) -> bool:
        """Put a held job that failed back in the queue, due at `run_after`."""
        return await self._let_go(
            job_id,
            worker_id,
            state=JobState.QUEUED,
            run_after=run_after,
            last_error=error,
        )

    async def bury(self, job_id: int, worker_id: str, *, error: str, now: datetime) -> bool:
        """Mark a held job dead (no retry can help, or no attempts left), keeping the error."""
        return await self._let_go(
            job_id,
            worker_id,
            state=JobState.DEAD,
            last_error=error,
            finished_at=now,
        )

    async def start_call(self, job_id: int, worker_id: str, *, now: datetime) -> bool:
        """Record that this run is about to make its unrepeatable call (a send).

        True when this worker holds the job and no earlier run started the call; False
        otherwise, and then the call must not be made. One conditional UPDATE, so two
        runs of the same job can never both start it. The caller commits before calling.
        """
        updated = await self.session.execute(
            update(Job)
            .where(self._mine(job_id, worker_id), Job.call_started_at.is_(None))
            .values(call_started_at=now)
            .returning(Job.id)
        )
        return updated.scalar_one_or_none() is not None

    async def end_call(self, job_id: int, worker_id: str) -> None:
        """Forget a started call that certainly had no effect (Meta refused it), so that
        a retry of the job may make it again."""
        await self.session.execute(
            update(Job).where(self._mine(job_id, worker_id)).values(call_started_at=None)
        )

    async def mark_uncertain(
        self, job_id: int, worker_id: str, *, error: str, now: datetime
    ) -> bool:
        """Stop a held job whose call may have taken effect unrecorded; False if not held."""
        return await self._let_go(
            job_id,
            worker_id,
            state=JobState.UNCERTAIN,
            last_error=error,
            finished_at=now,
        )

    async def release(self, job_id: int, worker_id: str, *, now: datetime) -> bool:
        """Give back a held job that a stopping worker could not finish.

        The job is due again at once and its attempt is not counted: it did not fail,
        its worker was asked to stop.
        """
        return await self._let_go(
            job_id,
            worker_id,
            state=JobState.QUEUED,
            run_after=now,
            attempts=Job.attempts - 1,
        )

    async def list_newest_first(
        self,
        *,
        state: str | None = None,
        kind: str | None = None,
        before_id: int | None = None,
        limit: int,
    ) -> list[Job]:
        """Jobs by descending id (newest first), optionally of one state and kind.

        `before_id` is the keyset position: only jobs with a smaller id are returned.
        """
        stmt = select(Job).order_by(Job.id.desc()).limit(limit)
        if state is not None:
            stmt = stmt.where(Job.state == state)
        if kind is not None:
            stmt = stmt.where(Job.kind == kind)
        if before_id is not None:
            stmt = stmt.where(Job.id < before_id)
        result = await self.session.execute(stmt)
        return list(result.scalars().all())

    async def requeue(self, job_id: int, *, now: datetime) -> Job | None:
        """Make a dead job, or a queued one waiting for its retry, due now with fresh attempts.

        Returns None when the job is absent, running or done (one conditional UPDATE,
        so a worker claiming the job at the same moment cannot be overridden).
        """
        return await self._queue_again(
            job_id,
            (JobState.DEAD, JobState.QUEUED),
            now=now,
            locked_by=None,
            locked_until=None,
        )

    async def requeue_uncertain(self, job_id: int, *, now: datetime) -> Job | None:
        """Queue an `uncertain` job to run now as if its call had never started.

        A person's decision ("send again"): the started call is forgotten, so the job
        makes it again. None when the job is absent or not uncertain (one conditional
        UPDATE, so two people choosing at once send once).
        """
        return await self._queue_again(job_id, (JobState.UNCERTAIN,), now=now, call_started_at=None)

    async def _queue_again(
        self, job_id: int, states: tuple[str, ...], *, now: datetime, **cleared: Any
    ) -> Job | None:
        """Queue the job to run now with no attempt counted, if it is in one of `states`
        (one conditional UPDATE); `cleared` are further columns to reset."""
        result = await self.session.execute(
            update(Job)
            .where(Job.id == job_id, Job.state.in_(states))
            .values(state=JobState.QUEUED, run_after=now, attempts=0, finished_at=None, **cleared)
            .returning(Job)
            .execution_options(populate_existing=True)
        )
        job = result.scalar_one_or_none()
        if job is not None:
            self.session.info[JOBS_ENQUEUED] = True
        return job

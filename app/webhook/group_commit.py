"""Group commit: the deliveries that arrive together are stored in one transaction.

Meta sends many small deliveries at once. A writer takes every delivery waiting and
writes them in one transaction; deliveries that arrive meanwhile wait for the next one.
A busy process so writes tens of deliveries with the statements and the commit that one
would take, and an idle one writes each at once, without waiting for company. One
writer runs at a time: SQLite has one connection, and on PostgreSQL every transaction
that stores deliveries adds events, whose ids must ascend in commit order, so such
transactions take one lock in turn and a second writer would only wait for it (measured:
fewer, larger transactions store more per second, with a lower p99, than four writers).

A request is answered only after the commit that holds its rows: 200 still means stored.
When a transaction fails because the database is unavailable, each of its requests gets
that error (and Meta delivers again); when it fails for anything else, each delivery is
written again on its own, so that one delivery's fault is only its own.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.outage import OutageTracker, is_database_unavailable
from app.webhook.service import Delivery, IngestResult, Refused, store

logger = logging.getLogger(__name__)

# Deliveries in one transaction at most: enough to amortise the statements and the
# commit, few enough that one transaction stays short.
MAX_GROUP = 200
# Turns of the event loop a writer lets pass before it takes a small group. A delivery
# whose bytes the process has already read reaches submit() within a few turns (the
# read, the request's task, its body), and so, often, does the next delivery of a
# client the last commit answered. Taken a moment later, a group of small deliveries
# holds them too: measured at 64 connections, a fifth more deliveries per second, and a
# lower p99. A group of this many items already spreads a transaction's round trips
# and commit thinly, and the turns would only keep the database waiting (each may read
# a large delivery): it is taken at once.
ARRIVAL_TURNS = 4
FULL_GROUP_ITEMS = 100


@dataclass
class _Waiting:
    delivery: Delivery
    outcome: asyncio.Future[IngestResult | Refused] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class GroupCommit:
    """Writes deliveries in shared transactions, one transaction at a time."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: Settings,
        outage: OutageTracker,
    ) -> None:
        self._sessions = sessions
        self._settings = settings
        self._outage = outage
        self._waiting: list[_Waiting] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, delivery: Delivery) -> IngestResult | Refused:
        """Store `delivery` with whatever arrives with it; return once that is committed."""
        waiting = _Waiting(delivery)
        self._waiting.append(waiting)
        # A writer that has just found nothing left is done before its done-callbacks
        # run: start another unless it is still running, or this delivery could wait
        # forever.
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_all())
        return await waiting.outcome

    async def _write_all(self) -> None:
        while self._waiting:
            group: list[_Waiting] = []
            try:
                await self._let_arrivals_join()
                group, self._waiting = self._waiting[:MAX_GROUP], self._waiting[MAX_GROUP:]
                outcomes = await self._write([w.delivery for w in group])
            except asyncio.CancelledError:
                # Shutting down mid-transaction: nothing of it is committed.
                for waiting in [*group, *self._waiting]:
                    waiting.outcome.cancel()
                raise
            except Exception as exc:
                if len(group) == 1 or is_database_unavailable(exc):
                    for waiting in group:
                        _fail(waiting, exc)
                    continue
                logger.warning(
                    "a transaction of %d deliveries failed (%s); storing each on its own",
                    len(group),
                    type(exc).__name__,
                )
                await self._write_each(group)
                continue
            for waiting, outcome in zip(group, outcomes, strict=True):
                if not waiting.outcome.done():
                    waiting.outcome.set_result(outcome)

    async def _let_arrivals_join(self) -> None:
        """Let deliveries already read join a small group (ARRIVAL_TURNS)."""
        for _ in range(ARRIVAL_TURNS):
            if sum(w.delivery.items for w in self._waiting) >= FULL_GROUP_ITEMS:
                return
            await asyncio.sleep(0)

    async def _write_each(self, group: list[_Waiting]) -> None:
        for waiting in group:
            try:
                (outcome,) = await self._write([waiting.delivery])
            except Exception as exc:
                _fail(waiting, exc)
            else:
                if not waiting.outcome.done():
                    waiting.outcome.set_result(outcome)

    async def _write(self, deliveries: list[Delivery]) -> list[IngestResult | Refused]:
        async with self._sessions() as session:
            outcomes = await store(session, self._settings, deliveries)
            await session.commit()
        self._outage.succeeded()
        return outcomes

    async def close(self) -> None:
        """Finish the transactions in progress, and every delivery waiting for one."""
        if self._writer is not None:
            await self._writer


def _fail(waiting: _Waiting, exc: Exception) -> None:
    if not waiting.outcome.done():
        waiting.outcome.set_exception(exc)

"""Runs beside the job worker: whenever events are committed (on any replica), turns
them into deliveries for the subscriptions that want them."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from app.outage import is_database_unavailable
from app.runtime import Runtime
from app.subscriptions.service import dispatch

logger = logging.getLogger(__name__)

# A busy webhook commits events many times a second, and each commit wakes every
# replica's dispatcher: waiting this long after a wake gathers them into one dispatch (one
# transaction) instead of one per commit, for a moment's delay of the deliveries.
GATHER_SECONDS = 0.1


class Dispatcher:
    """One loop: dispatch, then wait for new events (or the poll interval)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the loop in the background."""
        self._task = asyncio.create_task(self._run(), name="subscription-dispatcher")

    async def stop(self) -> None:
        """Stop the loop; a dispatch in progress is rolled back and done again later."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run_once(self) -> bool:
        """Dispatch what is new in one transaction; True if there is more."""
        async with self.runtime.sessions() as session:
            more = await dispatch(session, self.runtime.settings, now=self.runtime.clock())
            await session.commit()
        return more

    async def _run(self) -> None:
        poll = self.runtime.settings.worker_poll_seconds
        while True:
            wake = self.runtime.changes.next_wake()
            try:
                if await self.run_once():
                    continue
            except Exception as exc:
                if is_database_unavailable(exc):
                    self.runtime.outage.failed(exc)
                else:
                    logger.exception("dispatching events to subscriptions failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), poll)
            await asyncio.sleep(GATHER_SECONDS)

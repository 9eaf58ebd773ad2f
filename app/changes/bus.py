"""Wakes whoever waits for new events: on this process's commits, and on PostgreSQL on
every replica's too (LISTEN on the channel the writers NOTIFY).

The table is the source of truth: a wake-up only says "look again". A waiter also looks
again after a timeout, so a notification lost while the listening connection was down
costs latency, never an event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Session

from app.changes.repository import CHANGES_WRITTEN, CHANNEL

logger = logging.getLogger(__name__)

# How long the listener waits before connecting again after losing its connection.
RECONNECT_SECONDS = 2.0


class ChangeBus:
    """One per process and database: `wait()` returns when new events may be there."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._event = asyncio.Event()
        self._listener: asyncio.Task[None] | None = None

    def notify(self) -> None:
        """Wake every current waiter."""
        self._event.set()
        self._event = asyncio.Event()

    def next_wake(self) -> asyncio.Event:
        """An event set at the next wake-up. Take it before looking at the table, then
        wait on it: a commit in between still wakes the waiter."""
        return self._event

    def _after_commit(self, session: Session) -> None:
        if session.bind is self.engine.sync_engine and session.info.pop(CHANGES_WRITTEN, False):
            self.notify()

    async def start(self) -> None:
        """Listen for this process's commits, and on PostgreSQL for every replica's."""
        event.listen(Session, "after_commit", self._after_commit)
        if self.engine.dialect.name == "postgresql":
            self._listener = asyncio.create_task(self._listen(), name="change-listener")

    async def close(self) -> None:
        """Stop listening."""
        if event.contains(Session, "after_commit", self._after_commit):
            event.remove(Session, "after_commit", self._after_commit)
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None

    async def _listen(self) -> None:
        """Hold a connection that LISTENs, connecting again whenever it is lost."""
        while True:
            try:
                async with self.engine.connect() as connection:
                    raw: Any = (await connection.get_raw_connection()).driver_connection
                    lost = asyncio.Event()
                    raw.add_termination_listener(lambda _c, lost=lost: lost.set())
                    await raw.add_listener(CHANNEL, self._notified)
                    # Anything committed while there was no listener is looked for now.
                    self.notify()
                    await lost.wait()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("listening for change events failed: %s", type(exc).__name__)
            await asyncio.sleep(RECONNECT_SECONDS)

    def _notified(self, *_args: Any) -> None:
        self.notify()

"""Reading the change-event stream: a page after an id, or a live Server-Sent Events feed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

from app.changes.repository import ChangeRepository
from app.changes.schemas import ChangeOut
from app.models import ChangeEvent
from app.runtime import Runtime

# How long a stream waits for a wake-up before it looks at the table anyway (a replica
# whose notifications cannot arrive is then at most this late) and says it is alive.
POLL_SECONDS = 5.0
STREAM_BATCH = 500
# What a client that lost the stream waits before it connects again.
RETRY_MILLISECONDS = 2000


async def last_id(runtime: Runtime) -> int:
    """The id of the newest event (0 without events)."""
    async with runtime.reads() as session:
        return await ChangeRepository(session).last_id()


async def list_changes(
    runtime: Runtime,
    since: int,
    *,
    limit: int,
    types: Sequence[str] | None = None,
    conversation_id: int | None = None,
) -> list[ChangeEvent]:
    """Up to `limit` events after `since`, oldest first."""
    async with runtime.reads() as session:
        return await ChangeRepository(session).list_after(
            since, limit=limit, types=types, conversation_id=conversation_id
        )


def sse_frame(event: ChangeEvent) -> str:
    """One event as a Server-Sent Events message: its id (for Last-Event-ID), its type
    as the event name, and the event as JSON."""
    body = ChangeOut.model_validate(event).model_dump_json()
    return f"id: {event.id}\nevent: {event.type}\ndata: {body}\n\n"


async def stream(
    runtime: Runtime,
    since: int,
    *,
    types: Sequence[str] | None = None,
    conversation_id: int | None = None,
    poll_seconds: float | None = None,
) -> AsyncIterator[str]:
    """Every event after `since` as SSE messages, then each new one as it is committed.

    Runs until the client goes away (the server then cancels it). Each look at the table
    is a short read of its own; no connection is held while waiting.
    """
    position = since
    yield f"retry: {RETRY_MILLISECONDS}\n\n"
    while True:
        wake = runtime.changes.next_wake()
        events = await list_changes(
            runtime, position, limit=STREAM_BATCH, types=types, conversation_id=conversation_id
        )
        for event in events:
            yield sse_frame(event)
            position = event.id
        if len(events) == STREAM_BATCH:
            continue
        try:
            await asyncio.wait_for(wake.wait(), poll_seconds or POLL_SECONDS)
        except TimeoutError:
            yield ": keep-alive\n\n"

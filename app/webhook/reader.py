"""Reading webhook bodies into rows without holding the event loop.

A small body is read in place: it takes well under a millisecond. A large one (Meta sends
up to 3 MB) takes the JSON parser and Pydantic hundreds of milliseconds of native code,
which holds the GIL, so a thread would still stall every other request of the process.
It is read in a separate process instead, and its rows come back in pickled slices that
are loaded one at a time, with the loop free in between.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import pickle
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from datetime import datetime

from app.chunks import chunks
from app.webhook.prepared import PreparedDelivery, prepare

# Below this a body is read in place within a few milliseconds; above it, reading would
# hold the event loop too long, and the hop to another process pays off.
IN_PLACE_BYTES = 64 * 1024
# Rows per pickled slice: each slice loads in a few milliseconds.
ROWS_PER_SLICE = 200


def prepare_in_slices(
    body: bytes, default_phone_number_id: str, received_at: datetime
) -> list[bytes]:
    """`prepare`, pickled as the delivery without its rows, then its rows in slices."""
    prepared = prepare(body, default_phone_number_id, received_at)
    head = replace(prepared, messages=[], statuses=[])
    message_slices = -(-len(prepared.messages) // ROWS_PER_SLICE)
    return [
        pickle.dumps((head, message_slices)),
        *(pickle.dumps(list(part)) for part in chunks(prepared.messages, ROWS_PER_SLICE)),
        *(pickle.dumps(list(part)) for part in chunks(prepared.statuses, ROWS_PER_SLICE)),
    ]


async def _load_slices(slices: Sequence[bytes]) -> PreparedDelivery:
    prepared: PreparedDelivery
    prepared, message_slices = pickle.loads(slices[0])
    for i, piece in enumerate(slices[1:]):
        if i < message_slices:
            prepared.messages += pickle.loads(piece)
        else:
            prepared.statuses += pickle.loads(piece)
        await asyncio.sleep(0)  # let other requests run between slices
    return prepared


def _start_reader_process() -> ProcessPoolExecutor:
    # spawn: the reader process starts clean, not as a copy of this one with its event
    # loop, threads and open connections; as a direct child, it ends with this process.
    pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    pool.submit(int).result()  # the process is up and has imported what it needs
    return pool


class BodyReader:
    """Reads webhook bodies, large ones in a process of its own (started when first needed)."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None
        self._starting: asyncio.Task[ProcessPoolExecutor] | None = None

    async def read(
        self, body: bytes, default_phone_number_id: str, received_at: datetime
    ) -> PreparedDelivery:
        """The delivery `body` carries; raises what `prepare` raises for a refused body."""
        if len(body) <= IN_PLACE_BYTES:
            return prepare(body, default_phone_number_id, received_at)
        if self._pool is None:
            if self._starting is None:
                # Starting the process waits for it; that waiting is done off the loop,
                # and requests arriving meanwhile wait for the same start.
                self._starting = asyncio.create_task(asyncio.to_thread(_start_reader_process))
            self._pool = await self._starting
        slices = await asyncio.get_running_loop().run_in_executor(
            self._pool, prepare_in_slices, body, default_phone_number_id, received_at
        )
        return await _load_slices(slices)

    async def close(self) -> None:
        """Stop the reader process, if one was started, and wait until it has ended."""
        if self._starting is not None:
            self._pool = await self._starting
            self._starting = None
        if self._pool is not None:
            await asyncio.to_thread(self._pool.shutdown, wait=True, cancel_futures=True)
            self._pool = None

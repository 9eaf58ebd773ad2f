"""Retention: raw events, finished jobs and media files go once kept long enough."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from typing import Any

import anyio
import httpx
from sqlalchemy import update

from app.jobs import kinds
from app.jobs.handlers import schedules
from app.jobs.repository import JobRepository
from app.jobs.worker import Worker
from app.models import Job, JobState, Message
from app.retention.service import apply_retention
from app.runtime import Runtime
from tests.support.clock import WEDNESDAY_NOON, FixedClock
from tests.support.payloads import deliver, image_message, inbound, text_message
from tests.webhook import stored

DAY = timedelta(days=1)


def _keeping(runtime: Runtime, **days: Any) -> Runtime:
    return replace(runtime, settings=runtime.settings.model_copy(update=days))


async def test_raw_events_older_than_their_retention_go_and_the_messages_stay(
    client: httpx.AsyncClient, runtime: Runtime, clock: FixedClock
) -> None:
    assert (await deliver(client, inbound(text_message("old")))).status_code == 200
    clock.advance(20 * DAY)
    assert (await deliver(client, inbound(text_message("recent")))).status_code == 200

    result = await apply_retention(runtime, now=WEDNESDAY_NOON + 31 * DAY)

    assert result.events == 1
    (kept,) = await stored.events(runtime)
    assert kept.received_at == WEDNESDAY_NOON + 20 * DAY
    assert len(await stored.messages(runtime)) == 2


async def _job(runtime: Runtime, state: str, finished_days_ago: int | None) -> None:
    finished = WEDNESDAY_NOON - finished_days_ago * DAY if finished_days_ago is not None else None
    async with runtime.sessions() as session:
        session.add(Job(kind=kinds.READ_RECEIPT, payload={}, state=state, finished_at=finished))
        await session.commit()


async def test_finished_jobs_older_than_their_retention_go(runtime: Runtime) -> None:
    await _job(runtime, JobState.DONE, 15)
    await _job(runtime, JobState.DEAD, 15)
    await _job(runtime, JobState.DONE, 1)
    await _job(runtime, JobState.QUEUED, None)

    result = await apply_retention(runtime, now=WEDNESDAY_NOON)

    assert result.jobs == 2
    assert sorted(j.state for j in await stored.jobs(runtime)) == [JobState.DONE, JobState.QUEUED]


async def test_media_files_older_than_their_retention_are_deleted_and_marked_expired(
    client: httpx.AsyncClient, api: httpx.AsyncClient, runtime: Runtime, clock: FixedClock
) -> None:
    old = image_message("m-old", timestamp=WEDNESDAY_NOON)
    assert (await deliver(client, inbound(old))).status_code == 200
    clock.advance(300 * DAY)
    new = image_message("m-new", timestamp=clock.now)
    assert (await deliver(client, inbound(new))).status_code == 200
    media = anyio.Path(runtime.settings.media_dir)
    await media.mkdir(parents=True, exist_ok=True)
    for payload in (old, new):
        await (media / payload["id"]).write_bytes(b"jpeg")
        async with runtime.sessions() as session:
            await session.execute(
                update(Message)
                .where(Message.message_id == payload["id"])
                .values(media_state="stored", media_path=payload["id"], media_size=4)
            )
            await session.commit()

    result = await apply_retention(runtime, now=WEDNESDAY_NOON + 366 * DAY)

    assert result.media_files == 1
    assert not await (media / old["id"]).exists()
    assert await (media / new["id"]).exists()
    expired = await stored.message(runtime, old["id"])
    assert (expired.media_state, expired.media_path) == ("expired", None)
    answer = await api.get(f"/api/whatsapp/media/{old['id']}")
    assert answer.status_code == 404
    assert answer.json()["media_state"] == "expired"


async def test_a_retention_of_zero_keeps_forever(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    assert (await deliver(client, inbound(text_message("kept")))).status_code == 200
    await _job(runtime, JobState.DONE, 400)
    forever = _keeping(
        runtime, retention_raw_events_days=0, retention_finished_jobs_days=0, retention_media_days=0
    )

    result = await apply_retention(forever, now=WEDNESDAY_NOON + 1000 * DAY)

    assert (result.events, result.jobs, result.media_files) == (0, 0, 0)
    assert schedules(forever.settings) == {}


async def test_the_worker_runs_retention_periodically_and_records_what_it_removed(
    runtime: Runtime,
) -> None:
    await _job(runtime, JobState.DONE, 400)
    fast = replace(
        runtime, settings=runtime.settings.model_copy(update={"worker_poll_seconds": 0.05})
    )
    worker = Worker(fast, concurrency=1)
    await worker.start()
    try:
        for _ in range(100):
            runs = await stored.jobs(runtime, kind=kinds.RETENTION)
            if runs and runs[0].state == JobState.DONE:
                break
            await asyncio.sleep(0.05)
    finally:
        await worker.stop()
    (run,) = await stored.jobs(runtime, kind=kinds.RETENTION)
    assert run.state == JobState.DONE
    assert run.result == {"events": 0, "jobs": 1, "media_files": 0}


async def test_a_periodic_job_is_enqueued_once_per_interval(runtime: Runtime) -> None:
    hour = timedelta(hours=1)
    results = []
    for now in (WEDNESDAY_NOON, WEDNESDAY_NOON + hour / 2, WEDNESDAY_NOON + hour):
        async with runtime.sessions() as session:
            results.append(
                await JobRepository(session).enqueue_unless_recent(
                    kinds.RETENTION,
                    since=now - hour + timedelta(seconds=1),
                    now=now,
                    max_attempts=3,
                )
            )
            await session.commit()
    assert results == [True, False, True]

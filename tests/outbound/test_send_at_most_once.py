"""A queued send goes out at most once: its attempt is committed before Meta is called, and
a run that cannot know whether Meta sent the message stops as `uncertain` for a person."""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

import httpx
import respx
from sqlalchemy import update

from app.jobs.worker import Worker
from app.models import Job, JobState
from app.runtime import Runtime
from tests.jobs.conftest import claim_one, load_job
from tests.outbound.conftest import (
    MESSAGES_URL,
    SEND_URL,
    accepted,
    customer_wrote,
    hours,
    outbound_messages,
)

JOBS = "/api/whatsapp/jobs/"


def _worker(runtime: Runtime) -> Worker:
    settings = runtime.settings.model_copy(update={"job_backoff_base_seconds": 0.0})
    return Worker(replace(runtime, settings=settings), concurrency=1, rng=random.Random(7))


async def _queue(api: httpx.AsyncClient, runtime: Runtime) -> int:
    conversation_id = await customer_wrote(runtime, hours(1))
    response = await api.post(
        SEND_URL,
        json={"type": "text", "conversation_id": conversation_id, "body": "Hi", "queued": True},
    )
    assert response.status_code == 202, response.text
    return int(response.json()["id"])


async def test_the_attempt_is_committed_before_meta_is_called(
    api: httpx.AsyncClient, runtime: Runtime, graph: respx.MockRouter
) -> None:
    job_id = await _queue(api, runtime)
    seen_by_meta: list[Any] = []

    async def answer(request: httpx.Request) -> httpx.Response:
        # Another connection sees the attempt while Meta is being called.
        seen_by_meta.append((await load_job(runtime, job_id)).call_started_at)
        return accepted({"to": "919876543210"})

    graph.post(MESSAGES_URL).mock(side_effect=answer)

    assert await _worker(runtime).run_once()

    assert len(seen_by_meta) == 1
    assert seen_by_meta[0] is not None
    assert (await load_job(runtime, job_id)).state == JobState.DONE


async def test_a_run_that_finds_an_unanswered_attempt_is_uncertain_and_sends_nothing(
    api: httpx.AsyncClient, runtime: Runtime, meta: respx.Route
) -> None:
    job_id = await _queue(api, runtime)
    # The process that made the attempt died before Meta's answer was stored.
    async with runtime.sessions.begin() as session:
        await session.execute(
            update(Job).where(Job.id == job_id).values(call_started_at=runtime.clock())
        )

    assert await _worker(runtime).run_once()

    job = await load_job(runtime, job_id)
    assert job.state == JobState.UNCERTAIN
    assert "may have been sent" in (job.last_error or "")
    assert meta.call_count == 0
    assert await outbound_messages(runtime) == []


async def test_a_timeout_after_the_request_left_makes_the_job_uncertain_not_retried(
    api: httpx.AsyncClient, runtime: Runtime, graph: respx.MockRouter
) -> None:
    job_id = await _queue(api, runtime)
    route = graph.post(MESSAGES_URL).mock(side_effect=httpx.ReadTimeout("no answer"))
    worker = _worker(runtime)

    assert await worker.run_once()
    assert not await worker.run_once()

    job = await load_job(runtime, job_id)
    assert (job.state, job.attempts) == (JobState.UNCERTAIN, 1)
    assert route.call_count == 1


async def test_a_connection_refused_before_sending_is_retried_as_usual(
    api: httpx.AsyncClient, runtime: Runtime, graph: respx.MockRouter
) -> None:
    job_id = await _queue(api, runtime)
    graph.post(MESSAGES_URL).mock(
        side_effect=[httpx.ConnectError("refused"), accepted({"to": "919876543210"})]
    )
    worker = _worker(runtime)

    assert await worker.run_once()
    assert (await load_job(runtime, job_id)).state == JobState.QUEUED
    assert await worker.run_once()

    assert (await load_job(runtime, job_id)).state == JobState.DONE
    assert len(await outbound_messages(runtime)) == 1


async def test_uncertain_jobs_are_listed_by_the_jobs_api(
    api: httpx.AsyncClient, runtime: Runtime, graph: respx.MockRouter
) -> None:
    job_id = await _queue(api, runtime)
    graph.post(MESSAGES_URL).mock(side_effect=httpx.ReadTimeout("no answer"))
    assert await _worker(runtime).run_once()

    response = await api.get(JOBS, params={"state": "uncertain"})

    assert response.status_code == 200, response.text
    [job] = response.json()["jobs"]
    assert (job["id"], job["state"]) == (job_id, "uncertain")
    assert job["call_started_at"] is not None


async def test_send_again_is_a_persons_choice_that_sends_once_more(
    api: httpx.AsyncClient, runtime: Runtime, graph: respx.MockRouter
) -> None:
    job_id = await _queue(api, runtime)
    route = graph.post(MESSAGES_URL).mock(
        side_effect=[httpx.ReadTimeout("no answer"), accepted({"to": "919876543210"})]
    )
    worker = _worker(runtime)
    assert await worker.run_once()

    chosen = await api.post(f"{JOBS}{job_id}/send-again")

    assert chosen.status_code == 200, chosen.text
    assert (chosen.json()["state"], chosen.json()["call_started_at"]) == ("queued", None)
    assert await worker.run_once()
    assert (await load_job(runtime, job_id)).state == JobState.DONE
    assert route.call_count == 2
    assert len(await outbound_messages(runtime)) == 1


async def test_send_again_of_a_job_that_is_not_uncertain_is_409(
    api: httpx.AsyncClient, runtime: Runtime, meta: respx.Route
) -> None:
    job_id = await _queue(api, runtime)

    response = await api.post(f"{JOBS}{job_id}/send-again")

    assert response.status_code == 409
    assert response.json()["error"] == "job_not_uncertain"
    assert (await load_job(runtime, job_id)).state == JobState.QUEUED


async def test_retry_does_not_send_an_uncertain_job_again(
    api: httpx.AsyncClient, runtime: Runtime, graph: respx.MockRouter
) -> None:
    job_id = await _queue(api, runtime)
    graph.post(MESSAGES_URL).mock(side_effect=httpx.ReadTimeout("no answer"))
    assert await _worker(runtime).run_once()

    response = await api.post(f"{JOBS}{job_id}/retry")

    assert response.status_code == 409
    assert "send-again" in response.json()["detail"]
    assert (await load_job(runtime, job_id)).state == JobState.UNCERTAIN


async def test_a_retried_dead_job_whose_attempt_was_unanswered_stays_unsent(
    api: httpx.AsyncClient, runtime: Runtime, meta: respx.Route
) -> None:
    job_id = await _queue(api, runtime)
    job = await claim_one(runtime)
    # Its worker died during the last attempt, after starting the send; it was buried.
    async with runtime.sessions.begin() as session:
        await session.execute(
            update(Job)
            .where(Job.id == job.id)
            .values(state=JobState.DEAD, call_started_at=runtime.clock())
        )
    assert (await api.post(f"{JOBS}{job_id}/retry")).status_code == 200

    assert await _worker(runtime).run_once()

    assert (await load_job(runtime, job_id)).state == JobState.UNCERTAIN
    assert meta.call_count == 0

"""Queued delivery ("queued": true): 202 with a job that the worker sends, once, with retries."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta

import httpx
import respx
from sqlalchemy import update

from app.db import utcnow
from app.jobs import kinds
from app.jobs.worker import Worker
from app.models import Conversation, Job, JobState
from app.outbound.tasks import send_queued_message
from app.runtime import Runtime
from tests.jobs.conftest import claim_one, load_job
from tests.outbound.conftest import (
    MESSAGES_URL,
    SEND_URL,
    accepted,
    customer_wrote,
    hours,
    meta_error,
    outbound_messages,
)


def _worker(runtime: Runtime) -> Worker:
    """A worker that retries at once (no backoff), so a test can run the next attempt."""
    settings = runtime.settings.model_copy(update={"job_backoff_base_seconds": 0.0})
    return Worker(replace(runtime, settings=settings), concurrency=1, rng=random.Random(7))


async def _queue(api: httpx.AsyncClient, conversation_id: int) -> dict[str, object]:
    response = await api.post(
        SEND_URL,
        json={"type": "text", "conversation_id": conversation_id, "body": "Hi", "queued": True},
    )
    assert response.status_code == 202, response.text
    job: dict[str, object] = response.json()
    return job


async def test_queued_send_answers_202_with_the_job_and_sends_nothing_yet(
    api: httpx.AsyncClient, runtime: Runtime, meta: respx.Route
) -> None:
    conversation_id = await customer_wrote(runtime, hours(1))

    job = await _queue(api, conversation_id)

    assert job["kind"] == kinds.SEND_MESSAGE
    assert job["state"] == JobState.QUEUED
    assert meta.call_count == 0
    assert await outbound_messages(runtime) == []


async def test_worker_sends_the_queued_message_and_stores_it(
    api: httpx.AsyncClient, runtime: Runtime, meta: respx.Route
) -> None:
    conversation_id = await customer_wrote(runtime, hours(1))
    queued = await _queue(api, conversation_id)

    assert await _worker(runtime).run_once()

    job = await load_job(runtime, int(str(queued["id"])))
    [message] = await outbound_messages(runtime)
    assert job.state == JobState.DONE
    assert job.result == {"id": message.id, "message_id": message.message_id}
    assert (message.status, message.text_body, message.conversation_id) == (
        "accepted",
        "Hi",
        conversation_id,
    )
    assert meta.call_count == 1


async def test_queued_send_is_retried_after_a_transient_meta_error(
    api: httpx.AsyncClient, runtime: Runtime, graph: respx.MockRouter
) -> None:
    conversation_id = await customer_wrote(runtime, hours(1))
    route = graph.post(MESSAGES_URL).mock(
        side_effect=[
            meta_error(500, 131000, "Something went wrong"),
            accepted({"to": "919876543210"}),
        ]
    )
    queued = await _queue(api, conversation_id)
    worker = _worker(runtime)

    assert await worker.run_once()
    failed = await load_job(runtime, int(str(queued["id"])))
    assert failed.state == JobState.QUEUED
    assert failed.last_error is not None
    assert "131000" in failed.last_error
    assert await outbound_messages(runtime) == []

    assert await worker.run_once()
    done = await load_job(runtime, int(str(queued["id"])))
    assert (done.state, done.attempts) == (JobState.DONE, 2)
    assert route.call_count == 2
    assert len(await outbound_messages(runtime)) == 1


async def test_queued_send_that_meta_refuses_for_good_is_dead_at_once(
    api: httpx.AsyncClient, runtime: Runtime, graph: respx.MockRouter
) -> None:
    conversation_id = await customer_wrote(runtime, hours(1))
    graph.post(MESSAGES_URL).mock(return_value=meta_error(400, 131026, "Message undeliverable"))
    queued = await _queue(api, conversation_id)

    assert await _worker(runtime).run_once()

    job = await load_job(runtime, int(str(queued["id"])))
    assert (job.state, job.attempts) == (JobState.DEAD, 1)
    assert "Message undeliverable" in (job.last_error or "")


async def test_queued_send_whose_window_closed_while_waiting_is_dead_without_calling_meta(
    api: httpx.AsyncClient, runtime: Runtime, meta: respx.Route
) -> None:
    conversation_id = await customer_wrote(runtime, hours(1))
    queued = await _queue(api, conversation_id)
    async with runtime.sessions.begin() as session:
        await session.execute(
            update(Conversation)
            .where(Conversation.id == conversation_id)
            .values(last_inbound_at=utcnow() - timedelta(hours=25))
        )

    assert await _worker(runtime).run_once()

    job = await load_job(runtime, int(str(queued["id"])))
    assert job.state == JobState.DEAD
    assert "outside_customer_service_window" in (job.last_error or "")
    assert meta.call_count == 0


async def test_rerun_of_a_send_job_that_already_sent_does_not_send_again(
    api: httpx.AsyncClient, runtime: Runtime, meta: respx.Route
) -> None:
    conversation_id = await customer_wrote(runtime, hours(1))
    await _queue(api, conversation_id)
    job: Job = await claim_one(runtime)

    first = await send_queued_message(runtime, job)
    second = await send_queued_message(runtime, job)

    assert second == first
    assert meta.call_count == 1
    assert len(await outbound_messages(runtime)) == 1


async def test_queued_send_with_an_idempotency_key_queues_one_job(
    api: httpx.AsyncClient, runtime: Runtime, meta: respx.Route
) -> None:
    conversation_id = await customer_wrote(runtime, hours(1))
    body = {"type": "text", "conversation_id": conversation_id, "body": "Hi", "queued": True}
    headers = {"Idempotency-Key": "queued-1"}

    first = await api.post(SEND_URL, json=body, headers=headers)
    second = await api.post(SEND_URL, json=body, headers=headers)

    assert first.status_code == second.status_code == 202
    assert second.json()["id"] == first.json()["id"]

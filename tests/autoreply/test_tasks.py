"""The AUTO_REPLY job: the reply is sent through the send path and stored as an outbound message."""

from __future__ import annotations

from typing import Any

import pytest
import respx

from app.autoreply import rules
from app.autoreply.tasks import send_auto_reply
from app.jobs import kinds
from app.jobs.repository import JobRepository
from app.jobs.worker import Worker
from app.models import Job, JobState
from app.runtime import Runtime
from tests.autoreply.conftest import GREETING
from tests.jobs.conftest import claim_one, load_job
from tests.outbound.conftest import (
    CUSTOMER,
    customer_wrote,
    hours,
    outbound_messages,
    sent_payload,
)

# The job checks the 24-hour window at the app's time: fixed, so "25 hours ago" is exact.
pytestmark = pytest.mark.usefixtures("clock")


async def _enqueue(runtime: Runtime, payload: dict[str, Any]) -> Job:
    """An AUTO_REPLY job with `payload`, committed."""
    async with runtime.sessions.begin() as session:
        return await JobRepository(session).enqueue(kinds.AUTO_REPLY, payload, max_attempts=3)


async def test_auto_reply_job_sends_the_text_and_stores_it_as_outbound(
    runtime: Runtime, meta: respx.Route
) -> None:
    conversation_id = await customer_wrote(runtime, hours(0.1))
    queued = await _enqueue(
        runtime,
        {"conversation_id": conversation_id, "rule": rules.GREETING, "text": GREETING},
    )

    assert await Worker(runtime, concurrency=1).run_once()

    job = await load_job(runtime, queued.id)
    [message] = await outbound_messages(runtime)
    assert job.state == JobState.DONE
    assert job.result == {
        "rule": rules.GREETING,
        "id": message.id,
        "message_id": message.message_id,
    }
    assert (message.text_body, message.conversation_id, message.status) == (
        GREETING,
        conversation_id,
        "accepted",
    )
    assert sent_payload(meta)["to"] == CUSTOMER
    assert sent_payload(meta)["text"]["body"] == GREETING


async def test_auto_reply_whose_window_closed_is_skipped_without_calling_meta(
    runtime: Runtime, meta: respx.Route
) -> None:
    conversation_id = await customer_wrote(runtime, hours(25))
    queued = await _enqueue(
        runtime,
        {"conversation_id": conversation_id, "rule": rules.AWAY, "text": "Closed"},
    )

    assert await Worker(runtime, concurrency=1).run_once()

    job = await load_job(runtime, queued.id)
    assert job.state == JobState.DONE
    assert job.result is not None
    assert "24-hour" in job.result["skipped"]
    assert meta.call_count == 0
    assert await outbound_messages(runtime) == []


async def test_rerun_of_an_auto_reply_job_does_not_send_twice(
    runtime: Runtime, meta: respx.Route
) -> None:
    conversation_id = await customer_wrote(runtime, hours(0.1))
    await _enqueue(
        runtime,
        {"conversation_id": conversation_id, "rule": rules.GREETING, "text": GREETING},
    )
    job = await claim_one(runtime)

    first = await send_auto_reply(runtime, job)
    second = await send_auto_reply(runtime, job)

    assert first == second
    assert meta.call_count == 1
    assert len(await outbound_messages(runtime)) == 1


async def test_auto_reply_job_with_an_unusable_payload_is_dead(
    runtime: Runtime, meta: respx.Route
) -> None:
    queued = await _enqueue(runtime, {"rule": rules.GREETING, "text": ""})

    assert await Worker(runtime, concurrency=1).run_once()

    job = await load_job(runtime, queued.id)
    assert job.state == JobState.DEAD
    assert "invalid payload" in (job.last_error or "")
    assert meta.call_count == 0

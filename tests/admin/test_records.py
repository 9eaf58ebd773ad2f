"""Status updates, jobs and the raw event log are readable; jobs can be retried."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from app.models import Job, JobState
from app.runtime import Runtime
from tests.admin.test_messages import rows
from tests.support.payloads import (
    deliver,
    image_message,
    inbound,
    status,
    status_update,
    text_message,
)


@pytest.fixture
async def events(client: httpx.AsyncClient) -> dict[str, str]:
    """An image (which queues a media download job) and a status for an outbound message."""
    image = image_message(caption="receipt")
    assert (await deliver(client, inbound(image))).status_code == 200
    assert (await deliver(client, status_update(status("wamid.OUT1", "read")))).status_code == 200
    return {"image": image["id"]}


async def _job(runtime: Runtime, **values: Any) -> Job:
    """The one job the fixture made, first set to `values` if any are given."""
    async with runtime.sessions.begin() as session:
        if values:
            await session.execute(update(Job).values(**values))
        return (await session.execute(select(Job))).scalars().one()


async def test_status_updates_are_listed_and_readable_but_not_editable(
    admin: httpx.AsyncClient, events: dict[str, str]
) -> None:
    listed = rows(await admin.get("/admin/message-status-update/list"))
    assert len(listed) == 1
    assert "wamid.OUT1" in listed[0]
    assert "read" in listed[0]
    details = await admin.get("/admin/message-status-update/details/1")
    assert details.status_code == 200
    assert '<pre class="inbox-json">' in details.text
    assert (await admin.get("/admin/message-status-update/edit/1")).status_code == 403
    assert (await admin.get("/admin/message-status-update/create")).status_code == 403


async def test_the_raw_event_log_shows_each_body_as_received(
    admin: httpx.AsyncClient, events: dict[str, str]
) -> None:
    listed = rows(await admin.get("/admin/webhook-event/list"))
    assert len(listed) == 2
    details = await admin.get("/admin/webhook-event/details/1")
    assert events["image"] in details.text
    assert "whatsapp_business_account" in details.text
    assert (await admin.get("/admin/webhook-event/edit/1")).status_code == 403
    assert (await admin.delete("/admin/webhook-event/delete?pks=1")).status_code == 403


async def test_the_event_log_filters_the_deliveries_with_rejected_items(
    admin: httpx.AsyncClient, client: httpx.AsyncClient, events: dict[str, str]
) -> None:
    odd = text_message("odd") | {"timestamp": ["not", "a", "time"]}
    assert (await deliver(client, inbound(text_message("fine"), odd))).status_code == 200
    assert (await deliver(client, b"<not json>")).status_code == 400
    rejected = rows(await admin.get("/admin/webhook-event/list?rejected=true"))
    assert [row.split()[0] for row in rejected] == ["4", "3"]
    stored = rows(await admin.get("/admin/webhook-event/list?rejected=false"))
    assert [row.split()[0] for row in stored] == ["2", "1"]


async def test_an_event_shows_its_rejected_items_and_a_body_that_is_no_json(
    admin: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    assert (await deliver(client, b"<not json>")).status_code == 400
    details = await admin.get("/admin/webhook-event/details/1")
    assert "&lt;not json&gt;" in details.text
    assert "not valid JSON" in details.text


async def test_jobs_are_listed_with_their_state_and_last_error(
    admin: httpx.AsyncClient, runtime: Runtime, events: dict[str, str]
) -> None:
    job = await _job(runtime, state=JobState.DEAD, attempts=8, last_error="Meta answered 500")
    page = await admin.get("/admin/job/list", params={"state": "dead"})
    listed = rows(page)
    assert len(listed) == 1
    assert re.search(r"media\.download dead 8 .*Meta answered 500", listed[0])
    assert (await admin.get(f"/admin/job/edit/{job.id}")).status_code == 403


async def test_retry_requeues_a_dead_job_through_the_jobs_service(
    admin: httpx.AsyncClient, runtime: Runtime, events: dict[str, str]
) -> None:
    job = await _job(runtime, state=JobState.DEAD, attempts=8)
    response = await admin.post(f"/admin/job/action/retry?pks={job.id}")
    assert response.status_code == 303
    retried = await _job(runtime)
    assert (retried.state, retried.attempts) == (JobState.QUEUED, 0)
    page = await admin.get("/admin/job/list")
    assert f"Queued to run now: job {job.id}." in page.text


async def test_retrying_a_job_that_cannot_be_retried_says_why(
    admin: httpx.AsyncClient, runtime: Runtime, events: dict[str, str]
) -> None:
    job = await _job(runtime, state=JobState.DONE)
    await admin.post(f"/admin/job/action/retry?pks={job.id},999")
    page = await admin.get("/admin/job/list")
    assert f"job {job.id} is done; only dead or queued jobs can be retried" in page.text
    assert "no job with id 999" in page.text
    assert (await _job(runtime)).state == JobState.DONE


async def test_replaying_an_event_from_its_page_adds_nothing_already_stored(
    admin: httpx.AsyncClient, runtime: Runtime, events: dict[str, str]
) -> None:
    response = await admin.post(
        "/admin/webhook-event/action/replay?pks=1",
        headers={"referer": "http://testserver/admin/webhook-event/details/1"},
    )
    assert response.status_code == 303
    page = await admin.get("/admin/webhook-event/details/1")
    assert "Replayed event 1: 0 new messages, 0 new statuses; 0 items still rejected." in page.text
    async with runtime.sessions() as session:
        assert len((await session.execute(select(Job))).scalars().all()) == 1


async def test_replaying_an_event_that_does_not_exist_says_so(
    admin: httpx.AsyncClient, events: dict[str, str]
) -> None:
    await admin.post("/admin/webhook-event/action/replay?pks=999")
    page = await admin.get("/admin/webhook-event/list")
    assert "no webhook event with id 999." in page.text


async def test_uncertain_jobs_are_listed_and_sent_again_only_by_choice(
    admin: httpx.AsyncClient, runtime: Runtime, events: dict[str, str]
) -> None:
    job = await _job(runtime, state=JobState.UNCERTAIN, call_started_at=runtime.clock())
    page = await admin.get("/admin/job/list", params={"state": "uncertain"})
    assert len(rows(page)) == 1
    assert "Send again" in page.text

    await admin.post(f"/admin/job/action/retry?pks={job.id}")
    assert (await _job(runtime)).state == JobState.UNCERTAIN
    refused = await admin.get("/admin/job/list")
    assert "an uncertain job is run again with send-again" in refused.text

    response = await admin.post(f"/admin/job/action/send-again?pks={job.id}")
    assert response.status_code == 303
    again = await _job(runtime)
    assert (again.state, again.call_started_at) == (JobState.QUEUED, None)
    assert f"Queued to send again: job {job.id}." in (await admin.get("/admin/job/list")).text

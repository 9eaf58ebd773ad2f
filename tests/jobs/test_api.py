"""The jobs API: list with filters and pages, one job, and retrying what failed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from app.models import Job, JobState
from app.pagination import Cursor, encode_cursor
from app.runtime import Runtime
from tests.jobs.conftest import Enqueue, load_job
from tests.support.clock import FixedClock
from tests.support.pages import follow_pages

JOBS = "/api/whatsapp/jobs/"


async def _set(runtime: Runtime, job_id: int, **values: Any) -> None:
    async with runtime.sessions() as session:
        await session.execute(update(Job).where(Job.id == job_id).values(**values))
        await session.commit()


async def test_jobs_api_needs_the_api_key(client: httpx.AsyncClient, enqueue: Enqueue) -> None:
    job = await enqueue()
    for response in (
        await client.get(JOBS),
        await client.get(f"{JOBS}{job.id}"),
        await client.post(f"{JOBS}{job.id}/retry"),
    ):
        assert response.status_code == 401
        assert response.json()["error"] == "unauthorized"


async def test_jobs_are_listed_newest_first(api: httpx.AsyncClient, enqueue: Enqueue) -> None:
    ids = [(await enqueue(payload={"n": n})).id for n in range(3)]
    response = await api.get(JOBS)
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert [job["id"] for job in body["jobs"]] == ids[::-1]
    assert body["jobs"][0]["payload"] == {"n": 2}
    assert body["jobs"][0]["state"] == "queued"
    assert body["next_cursor"] is None


async def test_jobs_are_filtered_by_state_and_kind(
    api: httpx.AsyncClient, runtime: Runtime, enqueue: Enqueue
) -> None:
    dead_download = await enqueue("media.download")
    await enqueue("media.download")
    dead_receipt = await enqueue("message.read_receipt")
    for job in (dead_download, dead_receipt):
        await _set(runtime, job.id, state=JobState.DEAD)
    dead = (await api.get(JOBS, params={"state": "dead"})).json()["jobs"]
    assert {job["id"] for job in dead} == {dead_download.id, dead_receipt.id}
    both = (await api.get(JOBS, params={"state": "dead", "kind": "media.download"})).json()
    assert [job["id"] for job in both["jobs"]] == [dead_download.id]


async def test_jobs_are_paged_with_a_cursor(api: httpx.AsyncClient, enqueue: Enqueue) -> None:
    ids = [(await enqueue()).id for _ in range(5)]
    seen: list[int] = []
    cursor = None
    for _ in range(3):
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = (await api.get(JOBS, params=params)).json()
        seen += [job["id"] for job in body["jobs"]]
        cursor = body["next_cursor"]
    assert seen == ids[::-1]
    assert cursor is None


@pytest.mark.parametrize(
    "params",
    [{"state": "finished"}, {"limit": 0}, {"limit": 201}, {"cursor": "not-a-cursor"}],
)
async def test_bad_list_parameters_get_a_clear_error(
    api: httpx.AsyncClient, params: dict[str, Any]
) -> None:
    response = await api.get(JOBS, params=params)
    assert response.status_code == 422
    assert response.json()["detail"]


async def test_one_job_is_shown_by_id(api: httpx.AsyncClient, enqueue: Enqueue) -> None:
    job = await enqueue("media.download", {"message_id": "wamid.A"}, max_attempts=4)
    response = await api.get(f"{JOBS}{job.id}")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == job.id
    assert body["kind"] == "media.download"
    assert body["payload"] == {"message_id": "wamid.A"}
    assert (body["attempts"], body["max_attempts"], body["last_error"]) == (0, 4, None)


async def test_unknown_job_is_404(api: httpx.AsyncClient) -> None:
    response = await api.get(f"{JOBS}999999")
    assert response.status_code == 404
    assert response.json()["error"] == "job_not_found"


async def test_dead_job_is_retried_now_with_fresh_attempts(
    api: httpx.AsyncClient, runtime: Runtime, enqueue: Enqueue, clock: FixedClock
) -> None:
    job = await enqueue(run_after=clock.now - timedelta(hours=2))
    await _set(
        runtime,
        job.id,
        state=JobState.DEAD,
        attempts=3,
        last_error="Graph API error 131000: boom",
        finished_at=clock.now - timedelta(hours=1),
    )
    response = await api.post(f"{JOBS}{job.id}/retry")
    assert response.status_code == 200
    body = response.json()
    assert (body["state"], body["attempts"], body["finished_at"]) == ("queued", 0, None)
    stored = await load_job(runtime, job.id)
    assert (stored.state, stored.attempts) == (JobState.QUEUED, 0)
    assert stored.run_after == clock.now


async def test_queued_job_waiting_for_its_backoff_is_retried_now(
    api: httpx.AsyncClient, runtime: Runtime, enqueue: Enqueue, clock: FixedClock
) -> None:
    job = await enqueue(run_after=clock.now + timedelta(hours=1))
    await _set(runtime, job.id, attempts=2)
    response = await api.post(f"{JOBS}{job.id}/retry")
    assert response.status_code == 200
    stored = await load_job(runtime, job.id)
    assert stored.run_after == clock.now
    assert stored.attempts == 0


@pytest.mark.parametrize("state", [JobState.RUNNING, JobState.DONE])
async def test_running_or_done_job_cannot_be_retried(
    api: httpx.AsyncClient, runtime: Runtime, enqueue: Enqueue, state: str
) -> None:
    job = await enqueue()
    await _set(runtime, job.id, state=state, attempts=1)
    response = await api.post(f"{JOBS}{job.id}/retry")
    assert response.status_code == 409
    assert response.json()["error"] == "job_not_retryable"
    assert response.json()["state"] == state
    stored = await load_job(runtime, job.id)
    assert (stored.state, stored.attempts) == (state, 1)


async def test_retry_of_an_unknown_job_is_404(api: httpx.AsyncClient) -> None:
    response = await api.post(f"{JOBS}999999/retry")
    assert response.status_code == 404
    assert response.json()["error"] == "job_not_found"


async def _list_all(api: httpx.AsyncClient, **params: Any) -> list[int]:
    """Every job id the list returns, one per page, following next_cursor."""
    return await follow_pages(api, JOBS, "jobs", "id", limit=1, **params)


async def _downloads_among_others(enqueue: Enqueue) -> list[int]:
    """Six jobs, alternately media downloads and others; the downloads' ids, newest first."""
    jobs = [await enqueue("media.download" if n % 2 else "test.echo") for n in range(6)]
    return [job.id for job in jobs[1::2]][::-1]


async def test_cursor_alone_keeps_the_filters_of_the_first_page(
    api: httpx.AsyncClient, enqueue: Enqueue
) -> None:
    downloads = await _downloads_among_others(enqueue)

    listed = await _list_all(api, kind="media.download", state="queued", resend_filters=False)

    assert listed == downloads


async def test_cursor_with_the_same_filters_is_accepted(
    api: httpx.AsyncClient, enqueue: Enqueue
) -> None:
    downloads = await _downloads_among_others(enqueue)

    assert await _list_all(api, kind="media.download") == downloads


@pytest.mark.parametrize(
    ("made_with", "sent_with", "named"),
    [
        ({"kind": "media.download"}, {"kind": "test.echo"}, "kind"),
        ({"kind": "media.download"}, {"state": "queued"}, "kind, state"),
        ({}, {"state": "queued"}, "state"),
    ],
)
async def test_cursor_sent_with_other_filters_is_refused_saying_which(
    api: httpx.AsyncClient,
    enqueue: Enqueue,
    made_with: dict[str, Any],
    sent_with: dict[str, Any],
    named: str,
) -> None:
    await _downloads_among_others(enqueue)
    first = (await api.get(JOBS, params={"limit": 1, **made_with})).json()

    response = await api.get(JOBS, params={"cursor": first["next_cursor"], **sent_with})

    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid_cursor"
    assert "filters differ from the ones the cursor was made with" in body["detail"]
    assert f"({named})" in body["detail"]


async def test_cursor_of_another_list_is_refused(api: httpx.AsyncClient) -> None:
    messages_cursor = encode_cursor("messages", Cursor(at=None, id=1))

    response = await api.get(JOBS, params={"cursor": messages_cursor})

    assert response.status_code == 422
    assert response.json()["error"] == "invalid_cursor"

"""Templates come from Meta's GET /{waba-id}/message_templates, every page of it, by
command, by the periodic job, and are kept current by Meta's template webhooks."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from dataclasses import replace

import httpx
from sqlalchemy import select

from app.jobs import kinds
from app.jobs.handlers import schedules
from app.jobs.repository import JobRepository
from app.jobs.worker import Worker
from app.message_templates.service import sync_templates
from app.models import Job, JobState, MessageTemplate
from app.runtime import Runtime
from tests.conftest import ACCESS_TOKEN
from tests.message_templates.conftest import ORDER_UPDATE, WABA
from tests.support import payloads as p
from tests.support.fake_graph import TEMPLATES, FakeGraph
from tests.webhook import stored

LIST_URL = "/api/whatsapp/templates/"


def _sync_command(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "templates", "sync"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_sync_follows_every_page_and_stores_each_template(
    runtime: Runtime, fake_graph: FakeGraph
) -> None:
    for n in range(5):
        fake_graph.add_template(WABA, f"notice_{n}")
    fake_graph.template_page_size = 2

    result = await sync_templates(runtime, now=runtime.clock())

    assert (result.templates, result.pages) == (5, 3)
    assert len(fake_graph.requests(TEMPLATES)) == 3
    names = [t.name for t in await stored.rows(runtime, MessageTemplate)]
    assert sorted(names) == [f"notice_{n}" for n in range(5)]


async def test_a_template_meta_no_longer_lists_is_removed_by_the_next_sync(
    runtime: Runtime, fake_graph: FakeGraph
) -> None:
    fake_graph.add_template(WABA, "kept")
    async with runtime.sessions.begin() as session:
        session.add(
            MessageTemplate(template_id="1", name="deleted", language="en_US", status="APPROVED")
        )

    await sync_templates(runtime, now=runtime.clock())

    assert [t.name for t in await stored.rows(runtime, MessageTemplate)] == ["kept"]


async def test_template_list_shows_each_template_with_its_parameters(
    api: httpx.AsyncClient, synced: FakeGraph
) -> None:
    answer = await api.get(LIST_URL, params={"name": "order_update", "language": "en_US"})

    assert answer.status_code == 200
    (template,) = answer.json()["templates"]
    assert (template["category"], template["status"]) == ("UTILITY", "APPROVED")
    assert template["components"] == ORDER_UPDATE
    assert template["parameter_count"] == 5
    assert [p["label"] for p in template["parameters"]] == [
        "header {{1}}",
        "body {{1}}",
        "body {{2}}",
        "body {{3}}",
        "button 0 {{1}}",
    ]


async def test_template_list_filters_by_status(api: httpx.AsyncClient, synced: FakeGraph) -> None:
    answer = await api.get(LIST_URL, params={"status": "PAUSED"})

    assert [t["name"] for t in answer.json()["templates"]] == ["spring_sale"]


async def test_template_list_refuses_an_unknown_status(api: httpx.AsyncClient) -> None:
    answer = await api.get(LIST_URL, params={"status": "GREAT"})

    assert answer.status_code == 422


async def test_status_webhook_changes_the_stored_status(
    client: httpx.AsyncClient, runtime: Runtime, synced: FakeGraph
) -> None:
    (template,) = [t for t in await stored.rows(runtime, MessageTemplate) if t.language == "de"]
    value = {
        "event": "PAUSED",
        "message_template_id": int(template.template_id),
        "message_template_name": "order_update",
        "message_template_language": "de",
        "reason": "LOW_QUALITY",
    }

    answer = await p.deliver(
        client, p.webhook(p.entry(p.change(value, "message_template_status_update")))
    )

    assert answer.status_code == 200
    statuses = {
        t.language: t.status
        for t in await stored.rows(runtime, MessageTemplate)
        if t.name == "order_update"
    }
    assert statuses == {"en_US": "APPROVED", "de": "PAUSED"}


async def test_quality_webhook_changes_the_stored_quality_score(
    client: httpx.AsyncClient, runtime: Runtime, synced: FakeGraph
) -> None:
    value = {
        "previous_quality_score": "GREEN",
        "new_quality_score": "YELLOW",
        "message_template_id": 0,
        "message_template_name": "welcome",
        "message_template_language": "en_US",
    }
    await p.deliver(client, p.webhook(p.entry(p.change(value, "message_template_quality_update"))))

    (welcome,) = [t for t in await stored.rows(runtime, MessageTemplate) if t.name == "welcome"]
    assert welcome.quality_score == "YELLOW"


def test_the_worker_syncs_templates_periodically_only_with_a_business_account(
    runtime: Runtime,
) -> None:
    hourly = runtime.settings.model_copy(update={"template_sync_interval_seconds": 3600.0})
    without = runtime.settings.model_copy(update={"whatsapp_business_account_id": ""})

    assert schedules(hourly)[kinds.TEMPLATE_SYNC] == 3600.0
    assert kinds.TEMPLATE_SYNC not in schedules(without)


async def test_a_started_worker_syncs_the_templates(
    runtime: Runtime, fake_graph: FakeGraph
) -> None:
    fake_graph.add_template(WABA, "order_update", components=ORDER_UPDATE)
    fast = replace(
        runtime, settings=runtime.settings.model_copy(update={"worker_poll_seconds": 0.05})
    )
    worker = Worker(fast, concurrency=1)
    await worker.start()
    try:
        for _ in range(100):
            runs = await stored.rows(runtime, Job, kind=kinds.TEMPLATE_SYNC)
            if runs and runs[0].state == JobState.DONE:
                break
            await asyncio.sleep(0.05)
    finally:
        await worker.stop()

    (run,) = await stored.rows(runtime, Job, kind=kinds.TEMPLATE_SYNC)
    assert (run.state, run.result) == (JobState.DONE, {"templates": 1, "pages": 1})
    assert [t.name for t in await stored.rows(runtime, MessageTemplate)] == ["order_update"]


async def test_a_sync_meta_fails_changes_nothing_and_is_tried_again(
    runtime: Runtime, synced: FakeGraph
) -> None:
    before = await stored.rows(runtime, MessageTemplate)
    synced.add_template(WABA, "new_one")
    synced.fail(TEMPLATES, status=500, code=1, message="An unknown error occurred")
    async with runtime.sessions.begin() as session:
        await JobRepository(session).enqueue(
            kinds.TEMPLATE_SYNC, {}, max_attempts=3, run_after=runtime.clock()
        )

    assert await Worker(runtime, concurrency=1).run_once()

    (run,) = await stored.rows(runtime, Job, kind=kinds.TEMPLATE_SYNC)
    assert (run.state, run.attempts) == (JobState.QUEUED, 1)
    assert "An unknown error occurred" in (run.last_error or "")
    after = await stored.rows(runtime, MessageTemplate)
    assert [t.name for t in after] == [t.name for t in before]


async def test_the_sync_command_stores_the_templates(
    runtime: Runtime, fake_graph: FakeGraph, database: object
) -> None:
    fake_graph.add_template(WABA, "order_update", components=ORDER_UPDATE)
    env = {
        **os.environ,
        **fake_graph.env(),
        "DATABASE_URL": runtime.settings.database_url,
        "WHATSAPP_BUSINESS_ACCOUNT_ID": WABA,
        "WHATSAPP_ACCESS_TOKEN": ACCESS_TOKEN,
    }

    result = await asyncio.to_thread(_sync_command, env)

    assert result.returncode == 0, result.stderr
    assert "synced 1 templates (1 pages)" in result.stdout
    async with runtime.sessions() as session:
        names = (await session.execute(select(MessageTemplate.name))).scalars().all()
    assert list(names) == ["order_update"]


def test_the_sync_command_without_a_business_account_says_what_to_set() -> None:
    env = {k: v for k, v in os.environ.items() if k != "WHATSAPP_BUSINESS_ACCOUNT_ID"}
    env["DATABASE_URL"] = "sqlite:///:memory:"

    result = _sync_command(env)

    assert result.returncode == 2
    assert "WHATSAPP_BUSINESS_ACCOUNT_ID" in result.stderr

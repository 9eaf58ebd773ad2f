"""End to end: a first message gets exactly one greeting, even when Meta delivers it repeatedly.

The real `serve` command runs (worker inside the web process) against a fresh database
and the fake Graph API. The same signed delivery is POSTed five times, three of them at
once: the fake must see one greeting sent, and the service must store one outbound
greeting.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.conftest import API_KEY, APP_SECRET, PHONE_NUMBER_ID, VERIFY_TOKEN, signed_headers
from tests.support.databases import IN_CI, TestDatabase, create_database, postgres_available
from tests.support.fake_graph import FakeGraph
from tests.support.payloads import CUSTOMER_NUMBER, WEBHOOK_URL, encode, inbound, text_message
from tests.support.processes import ServiceProcess, start_server

pytestmark = pytest.mark.e2e

GREETING = "Welcome to Acme! We answer within the hour."
AUTH = {"Authorization": f"Bearer {API_KEY}"}


@pytest.fixture
def fresh_database(backend: str, tmp_path: Path) -> Iterator[TestDatabase]:
    """A database of its own, so the server's worker sees only this test's jobs."""
    if backend == "postgresql" and not postgres_available():
        if IN_CI:
            pytest.fail("PostgreSQL is not reachable at 127.0.0.1:5432, and CI needs it")
        pytest.skip("PostgreSQL is not reachable")
    database = create_database(backend, tmp_path)
    yield database
    database.drop()


@pytest.fixture
def server(fresh_database: TestDatabase, fake_graph: FakeGraph, tmp_path: Path) -> Iterator[str]:
    """The real service with its worker and a greeting, pointed at the fake Graph API."""
    env = {
        "ENVIRONMENT": "test",
        "DATABASE_URL": fresh_database.url,
        "WHATSAPP_APP_SECRET": APP_SECRET,
        "WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN,
        "WHATSAPP_PHONE_NUMBER_ID": PHONE_NUMBER_ID,
        "API_KEYS": API_KEY,
        "WORKER_ENABLED": "true",
        "WORKER_POLL_SECONDS": "0.2",
        "MEDIA_DIR": str(tmp_path / "media"),
        "GREETING_MESSAGE": GREETING,
        **fake_graph.env(),
    }
    process: ServiceProcess
    process, url = start_server(env, tmp_path / "server.log")
    try:
        yield url
    finally:
        process.stop()


def _wait_until_jobs_settle(http: httpx.Client, within: float = 30) -> list[dict[str, object]]:
    """Poll the jobs API until no job is queued or running; return the auto-reply jobs."""
    deadline = time.monotonic() + within
    while True:
        jobs = http.get("/api/whatsapp/jobs/", params={"limit": 200}, headers=AUTH).json()["jobs"]
        if jobs and all(job["state"] in ("done", "dead") for job in jobs):
            return [job for job in jobs if job["kind"] == "auto_reply.send"]
        assert time.monotonic() < deadline, f"jobs did not finish: {jobs}"
        time.sleep(0.2)


def test_repeated_first_message_gets_exactly_one_greeting(
    server: str, fake_graph: FakeGraph
) -> None:
    body = encode(inbound(text_message("Hi, is the shop open?")))
    headers = signed_headers(body)

    with httpx.Client(base_url=server, timeout=15) as http:

        def post() -> int:
            return http.post(WEBHOOK_URL, content=body, headers=headers).status_code

        with ThreadPoolExecutor(max_workers=3) as pool:
            concurrent = list(pool.map(lambda _: post(), range(3)))
        sequential = [post(), post()]
        assert concurrent + sequential == [200] * 5

        greeting_jobs = _wait_until_jobs_settle(http)
        outbound = http.get(
            "/api/whatsapp/messages/", params={"direction": "out"}, headers=AUTH
        ).json()["messages"]

    assert len(greeting_jobs) == 1
    assert greeting_jobs[0]["state"] == "done"
    sends = fake_graph.sent_messages()
    assert len(sends) == 1
    assert sends[0]["to"] == CUSTOMER_NUMBER
    assert sends[0]["text"]["body"] == GREETING
    assert len(outbound) == 1
    assert outbound[0]["text_body"] == GREETING
    assert outbound[0]["to_number"] == CUSTOMER_NUMBER

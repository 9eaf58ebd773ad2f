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

from tests.conftest import API_KEY, signed_headers
from tests.support.fake_graph import FakeGraph
from tests.support.payloads import CUSTOMER_NUMBER, WEBHOOK_URL, encode, inbound, text_message
from tests.support.processes import running_server

pytestmark = pytest.mark.e2e

GREETING = "Welcome to Acme! We answer within the hour."
AUTH = {"Authorization": f"Bearer {API_KEY}"}


@pytest.fixture
def server(service_env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """The real service with its worker and a greeting, pointed at the fake Graph API."""
    with running_server({**service_env, "GREETING_MESSAGE": GREETING}, tmp_path / "s.log") as url:
        yield url


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

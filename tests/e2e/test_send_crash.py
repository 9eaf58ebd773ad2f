"""A serve process killed (SIGKILL) while queued sends are in flight sends no message twice.

The real server, with its worker inside, sends thirty queued texts through the fake Graph
API, which answers slowly; the server is killed while some sends wait for Meta's answer
and started again. Sends whose answer was lost end `uncertain`; every other one is done;
no text reaches Meta twice.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.jobs import kinds
from tests.conftest import API_KEY, signed_headers
from tests.support.fake_graph import SEND, FakeGraph
from tests.support.payloads import WEBHOOK_URL, encode, inbound, text_message
from tests.support.processes import start_server, wait_until

pytestmark = pytest.mark.e2e

SENDS = 30
CONCURRENCY = 4
LEASE_SECONDS = 2.0
SLOW_GRAPH_SECONDS = 0.5


@pytest.fixture
def env(service_env: dict[str, str]) -> dict[str, str]:
    """The worker in the web process, with a short lease so a killed run's jobs return."""
    return {
        **service_env,
        "SEND_READ_RECEIPTS": "false",
        "WORKER_CONCURRENCY": str(CONCURRENCY),
        "WORKER_POLL_SECONDS": "0.1",
        "JOB_LEASE_SECONDS": str(LEASE_SECONDS),
        "JOB_BACKOFF_BASE_SECONDS": "0.1",
    }


def _send_jobs(api: httpx.Client) -> list[dict[str, Any]]:
    response = api.get("/api/whatsapp/jobs/", params={"kind": kinds.SEND_MESSAGE, "limit": 100})
    assert response.status_code == 200, response.text
    jobs: list[dict[str, Any]] = response.json()["jobs"]
    return jobs


def _queue_sends(api: httpx.Client) -> set[str]:
    customers = [f"1650777{n:04d}" for n in range(SENDS)]
    body = encode(inbound(*(text_message("hello", from_=c) for c in customers)))
    assert api.post(WEBHOOK_URL, content=body, headers=signed_headers(body)).status_code == 200
    texts = set()
    for n, customer in enumerate(customers):
        text = f"Your order {n} has shipped."
        queued = api.post(
            "/api/whatsapp/messages/",
            json={"type": "text", "to": customer, "body": text, "queued": True},
        )
        assert queued.status_code == 202, queued.text
        texts.add(text)
    return texts


def test_a_killed_server_never_sends_a_queued_message_twice(
    env: dict[str, str], fake_graph: FakeGraph, tmp_path: Path
) -> None:
    fake_graph.delay(SEND, SLOW_GRAPH_SECONDS)
    server, url = start_server(env, tmp_path / "server-1.log")
    auth = {"Authorization": f"Bearer {API_KEY}"}
    try:
        with httpx.Client(base_url=url, headers=auth, timeout=10) as api:
            texts = _queue_sends(api)
            wait_until(
                lambda: len(fake_graph.requests(SEND)) > CONCURRENCY,
                within=60,
                what="some sends are done and others in flight",
            )
        server.kill()
    finally:
        server.stop()
    sent_before_kill = len(fake_graph.requests(SEND))
    assert sent_before_kill < SENDS, "every send finished before the kill; nothing was tested"

    fake_graph.delay(SEND, 0.0)
    server, url = start_server(env, tmp_path / "server-2.log")
    try:
        with httpx.Client(base_url=url, headers=auth, timeout=10) as api:
            wait_until(
                lambda: {job["state"] for job in _send_jobs(api)} <= {"done", "uncertain"},
                within=90,
                what="every send job is done or uncertain",
            )
            jobs = _send_jobs(api)
            stored = api.get("/api/whatsapp/messages/", params={"direction": "out", "limit": 100})
            assert stored.status_code == 200, stored.text
    finally:
        server.stop()

    seen = Counter(message["text"]["body"] for message in fake_graph.sent_messages())
    assert set(seen) <= texts
    assert max(seen.values()) == 1, [text for text, n in seen.items() if n > 1]
    done = [job for job in jobs if job["state"] == "done"]
    uncertain = [job for job in jobs if job["state"] == "uncertain"]
    assert len(done) + len(uncertain) == SENDS
    # Only the sends in flight at the kill are uncertain: at most one per worker slot.
    assert 1 <= len(uncertain) <= CONCURRENCY, uncertain
    for job in done:
        assert seen[job["payload"]["request"]["body"]] == 1, job
    # What Meta accepted and answered is stored; the lost answers are the uncertain jobs.
    stored_texts = {message["text_body"] for message in stored.json()["messages"]}
    assert stored_texts == {job["payload"]["request"]["body"] for job in done}

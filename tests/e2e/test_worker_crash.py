"""A worker killed in the middle of its jobs loses none, and repeats only what was in flight.

The real server (worker off) and a separate `whatsapp-inbox worker` process run against a
fresh database and the fake Graph API. Read receipts are the jobs: six customers write,
their messages are marked read through the API, and each conversation gets a read-receipt
job whose Graph call the fake answers slowly, so the worker can be killed mid-call.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.jobs import kinds
from tests.conftest import (
    API_KEY,
    signed_headers,
)
from tests.support.fake_graph import READ_RECEIPT, FakeGraph
from tests.support.payloads import WEBHOOK_URL, encode, inbound, text_message
from tests.support.processes import ServiceProcess, start_server, wait_until

pytestmark = pytest.mark.e2e

CUSTOMERS = [f"1650555{n:04d}" for n in range(6)]
CONCURRENCY = 2
LEASE_SECONDS = 2.0
SLOW_GRAPH_SECONDS = 1.0


@pytest.fixture
def env(service_env: dict[str, str]) -> dict[str, str]:
    """Web and worker processes apart, with a short lease so a dead worker's jobs return."""
    return {
        **service_env,
        "SEND_READ_RECEIPTS": "true",
        "WORKER_ENABLED": "false",
        "WORKER_CONCURRENCY": str(CONCURRENCY),
        "WORKER_POLL_SECONDS": "0.1",
        "JOB_LEASE_SECONDS": str(LEASE_SECONDS),
        "JOB_BACKOFF_BASE_SECONDS": "0.1",
    }


def _receipt_jobs(api: httpx.Client) -> dict[int, dict[str, Any]]:
    response = api.get("/api/whatsapp/jobs/", params={"kind": kinds.READ_RECEIPT})
    assert response.status_code == 200, response.text
    return {job["id"]: job for job in response.json()["jobs"]}


def test_killed_worker_mid_job_loses_nothing_and_repeats_only_the_jobs_in_flight(
    env: dict[str, str], fake_graph: FakeGraph, tmp_path: Path
) -> None:
    server, url = start_server(env, tmp_path / "server.log")
    workers: list[ServiceProcess] = []
    try:
        with httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=10
        ) as api:
            # Six customers write; marking their messages read queues six receipts.
            messages = [text_message(f"hello {n}", from_=c) for n, c in enumerate(CUSTOMERS)]
            body = encode(inbound(*messages))
            delivered = api.post(WEBHOOK_URL, content=body, headers=signed_headers(body))
            assert delivered.status_code == 200, delivered.text
            wamids = {m["id"] for m in messages}
            marked = api.post("/api/whatsapp/mark-read/", json={"message_ids": sorted(wamids)})
            assert marked.status_code == 200, marked.text
            jobs = _receipt_jobs(api)
            assert {job["payload"]["message_id"] for job in jobs.values()} == wamids
            assert {job["state"] for job in jobs.values()} == {"queued"}

            # The first worker gets through some jobs; it dies while Meta is slow to answer.
            fake_graph.delay(READ_RECEIPT, SLOW_GRAPH_SECONDS)
            first = ServiceProcess(["worker"], env, tmp_path / "worker-1.log").start()
            workers.append(first)
            wait_until(
                lambda: len(fake_graph.read_receipts()) > CONCURRENCY,
                within=30,
                what="the first worker is past its first jobs",
            )
            first.kill()
            at_kill = _receipt_jobs(api)
            in_flight = {
                job["payload"]["message_id"]
                for job in at_kill.values()
                if job["state"] == "running"
            }
            assert 1 <= len(in_flight) <= CONCURRENCY, at_kill
            assert any(job["state"] == "done" for job in at_kill.values())
            assert any(job["state"] == "queued" for job in at_kill.values())

            # A new worker reclaims the orphaned jobs once their lease runs out.
            fake_graph.delay(READ_RECEIPT, 0.0)
            second = ServiceProcess(["worker"], env, tmp_path / "worker-2.log").start()
            workers.append(second)
            wait_until(
                lambda: all(job["state"] == "done" for job in _receipt_jobs(api).values()),
                within=30,
                what="every read receipt job is done",
            )
            final = _receipt_jobs(api)
            # SIGTERM: the worker stops claiming and exits cleanly.
            assert second.stop() == 0, second.log()
    finally:
        for worker in workers:
            worker.stop()
        server.stop()

    # Every job is done, and Meta saw each job's read receipt.
    assert {job["state"] for job in final.values()} == {"done"}
    seen = Counter(fake_graph.read_receipts())
    assert set(seen) == wamids
    for job in final.values():
        wamid = job["payload"]["message_id"]
        if wamid in in_flight:
            # In flight at the kill: the dead worker's call may or may not have reached
            # Meta before it died, so Meta saw it once or twice; the job ran twice.
            assert 1 <= seen[wamid] <= 2, (wamid, seen)
            assert job["attempts"] == 2, job
        else:
            # Done before the kill, or not yet started: exactly once.
            assert seen[wamid] == 1, (wamid, seen)
            assert job["attempts"] == 1, job


def test_worker_inside_the_web_process_runs_jobs_by_default(
    env: dict[str, str], fake_graph: FakeGraph, tmp_path: Path
) -> None:
    # WORKER_ENABLED is left unset: the default must run the worker in the web process.
    env = {name: value for name, value in env.items() if name != "WORKER_ENABLED"}
    server, url = start_server(env, tmp_path / "server.log")
    try:
        with httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=10
        ) as api:
            message = text_message("hello", from_=CUSTOMERS[0])
            body = encode(inbound(message))
            assert api.post(WEBHOOK_URL, content=body, headers=signed_headers(body)).is_success
            marked = api.post("/api/whatsapp/mark-read/", json={"message_ids": [message["id"]]})
            assert marked.status_code == 200, marked.text
            wait_until(
                lambda: [j["state"] for j in _receipt_jobs(api).values()] == ["done"],
                within=15,
                what="the web process's worker ran the read receipt",
            )
        assert fake_graph.read_receipts() == [message["id"]]
    finally:
        server.stop()
    # SIGTERM ran the lifespan's shutdown, which stops the worker inside it.
    assert "Application shutdown complete" in server.log()
    # The service's own log lines reach the process's output.
    assert "(message.read_receipt) done on attempt 1" in server.log()

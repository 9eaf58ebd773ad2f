"""`serve --workers 2`: one migration, then two web processes, each with its job worker.

The real command runs against a database of its own and the fake Graph API, on SQLite
(two processes on one file) and on PostgreSQL.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.jobs import kinds
from tests.conftest import API_KEY
from tests.support.databases import TestDatabase
from tests.support.deliveries import deliver_concurrently
from tests.support.fake_graph import FakeGraph
from tests.support.payloads import encode, inbound, text_message
from tests.support.processes import ServiceProcess, start_server, wait_until

pytestmark = pytest.mark.e2e

WORKERS = 2
CUSTOMERS = [f"1650555{n:04d}" for n in range(12)]
STARTED = re.compile(r"Started server process \[(\d+)\]")


def _web_processes(server: ServiceProcess) -> list[int]:
    """The process ids that uvicorn reports as started serving, in log order."""
    wait_until(
        lambda: server.log().count("Application startup complete") >= WORKERS,
        within=30,
        what=f"{WORKERS} web processes started",
    )
    return [int(pid) for pid in STARTED.findall(server.log())]


def _children_of(pid: int) -> set[int]:
    """The ids of the running processes whose parent is `pid` (from /proc)."""
    children = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # The command name (field 2) is in parentheses and may hold spaces.
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process ended while being looked at
        if int(fields[1]) == pid:
            children.add(int(stat.parent.name))
    return children


def test_two_workers_migrate_once_then_serve_from_two_child_processes(
    service_env: dict[str, str], empty_database: TestDatabase, tmp_path: Path
) -> None:
    env = {**service_env, "DATABASE_URL": empty_database.url}
    server, url = start_server(env, tmp_path / "server.log", args=["--workers", str(WORKERS)])
    try:
        web = _web_processes(server)
        assert server.process is not None
        assert len(set(web)) == WORKERS
        assert set(web) <= _children_of(server.process.pid)
        with httpx.Client(base_url=url, timeout=10) as client:
            assert client.get("/readyz").status_code == 200
            listed = client.get(
                "/api/whatsapp/conversations/", headers={"Authorization": f"Bearer {API_KEY}"}
            )
            assert listed.status_code == 200, listed.text
    finally:
        assert server.stop() == 0
    log = server.log()
    # Alembic reports its context once per run: the parent migrated, no web process did,
    # and it had finished before the first web process started.
    assert log.count("Context impl") == 1, log
    assert log.count("Running upgrade  -> 0001") == 1, log
    assert log.rindex("Running upgrade") < log.index("Started server process")
    assert f"with {WORKERS} web processes" in log


def test_web_processes_store_repeated_deliveries_once_and_run_each_job_once(
    service_env: dict[str, str], fake_graph: FakeGraph, tmp_path: Path
) -> None:
    env = {**service_env, "SEND_READ_RECEIPTS": "true", "WORKER_POLL_SECONDS": "0.1"}
    server, url = start_server(env, tmp_path / "server.log", args=["--workers", str(WORKERS)])
    try:
        _web_processes(server)
        messages = [text_message(f"hello {n}", from_=c) for n, c in enumerate(CUSTOMERS)]
        bodies = [encode(inbound(message)) for message in messages]
        statuses = deliver_concurrently(url, bodies, copies=3, senders=8)
        assert set(statuses) == {200}
        with httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=10
        ) as api:
            conversations = api.get("/api/whatsapp/conversations/", params={"limit": 50}).json()
            counts = {c["phone_number"]: c["message_count"] for c in conversations["conversations"]}
            assert counts == dict.fromkeys(CUSTOMERS, 1)

            # One read receipt job per conversation; both processes' workers poll for them.
            wamids = sorted(m["id"] for m in messages)
            marked = api.post("/api/whatsapp/mark-read/", json={"message_ids": wamids})
            assert marked.status_code == 200, marked.text

            def receipts() -> list[dict[str, Any]]:
                listed = api.get("/api/whatsapp/jobs/", params={"kind": kinds.READ_RECEIPT})
                jobs: list[dict[str, Any]] = listed.json()["jobs"]
                return jobs

            wait_until(
                lambda: [job["state"] for job in receipts()] == ["done"] * len(CUSTOMERS),
                within=30,
                what="every read receipt job is done",
            )
            assert [job["attempts"] for job in receipts()] == [1] * len(CUSTOMERS)
    finally:
        server.stop()
    assert Counter(fake_graph.read_receipts()) == dict.fromkeys(wamids, 1)

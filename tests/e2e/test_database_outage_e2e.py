"""A PostgreSQL outage: 503 with Retry-After while it lasts, one log line at each end.

The real server (with its worker inside) runs against a cluster of this test's own,
which the test crashes (`pg_ctl stop -m immediate`) and starts again.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import API_KEY, signed_headers
from tests.e2e.conftest import service_environment
from tests.support.fake_graph import FakeGraph
from tests.support.payloads import WEBHOOK_URL, encode, inbound, text_message
from tests.support.postgres_cluster import PostgresCluster, throwaway_cluster
from tests.support.processes import ServiceProcess, start_server

pytestmark = pytest.mark.e2e

UNAVAILABLE_LINE = "database unavailable since"
AVAILABLE_LINE = "database available again after"


@pytest.fixture
def cluster() -> Iterator[PostgresCluster]:
    with throwaway_cluster() as started:
        yield started


@pytest.fixture
def server(
    cluster: PostgresCluster, fake_graph: FakeGraph, tmp_path: Path
) -> Iterator[tuple[ServiceProcess, str]]:
    env = service_environment(cluster.url, fake_graph, tmp_path)
    process, url = start_server(env, tmp_path / "server.log")
    yield process, url
    process.stop()


def _deliver(api: httpx.Client, text: str) -> httpx.Response:
    body = encode(inbound(text_message(text)))
    return api.post(WEBHOOK_URL, content=body, headers=signed_headers(body))


def _assert_database_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["error"] == "database_unavailable"
    assert int(response.headers["Retry-After"]) > 0


def test_a_crashed_database_answers_503_and_logs_one_line_when_it_goes_and_one_when_it_returns(
    cluster: PostgresCluster, server: tuple[ServiceProcess, str]
) -> None:
    process, url = server
    with httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=10
    ) as api:
        assert _deliver(api, "before").status_code == 200

        cluster.stop("immediate")
        # Long enough for the worker's loops (polling every 0.2 s) to fail too.
        time.sleep(1)
        refused = [
            _deliver(api, "during 1"),
            api.get("/api/whatsapp/messages/"),
            _deliver(api, "during 2"),
            api.get("/api/whatsapp/conversations/"),
            api.get("/readyz"),
        ]
        for response in refused:
            _assert_database_unavailable(response)
        during = process.log()

        cluster.start()
        assert _deliver(api, "after").status_code == 200
        listed = api.get("/api/whatsapp/messages/")

    assert listed.status_code == 200
    assert {m["text_body"] for m in listed.json()["messages"]} == {"before", "after"}
    assert during.count(UNAVAILABLE_LINE) == 1
    assert AVAILABLE_LINE not in during
    log = process.log()
    assert log.count(UNAVAILABLE_LINE) == 1
    assert log.count(AVAILABLE_LINE) == 1
    assert f"{len(refused)} requests answered 503" in log
    assert "Traceback" not in log

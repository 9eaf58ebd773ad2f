"""End to end: a send followed by its status webhooks in the wrong order ends `read`.

The real `serve` command runs against a fresh database and the fake Graph API. The
customer writes, the business answers through POST /api/whatsapp/messages/, and Meta's
statuses for the answer arrive as read, sent, delivered: the message must end read.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import API_KEY, APP_SECRET, PHONE_NUMBER_ID, VERIFY_TOKEN, signed_headers
from tests.support.databases import IN_CI, TestDatabase, create_database, postgres_available
from tests.support.fake_graph import FakeGraph
from tests.support.payloads import (
    CUSTOMER_NUMBER,
    WEBHOOK_URL,
    encode,
    inbound,
    status,
    status_update,
    text_message,
)
from tests.support.processes import ServiceProcess, start_server

pytestmark = pytest.mark.e2e

AUTH = {"Authorization": f"Bearer {API_KEY}"}


@pytest.fixture
def fresh_database(backend: str, tmp_path: Path) -> Iterator[TestDatabase]:
    """A database of its own for the server."""
    if backend == "postgresql" and not postgres_available():
        if IN_CI:
            pytest.fail("PostgreSQL is not reachable at 127.0.0.1:5432, and CI needs it")
        pytest.skip("PostgreSQL is not reachable")
    database = create_database(backend, tmp_path)
    yield database
    database.drop()


@pytest.fixture
def server(fresh_database: TestDatabase, fake_graph: FakeGraph, tmp_path: Path) -> Iterator[str]:
    """The real service with its worker, pointed at the fake Graph API; yields its URL."""
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
        **fake_graph.env(),
    }
    process: ServiceProcess
    process, url = start_server(env, tmp_path / "server.log")
    try:
        yield url
    finally:
        process.stop()


def _deliver(http: httpx.Client, payload: dict[str, object]) -> None:
    body = encode(payload)
    response = http.post(WEBHOOK_URL, content=body, headers=signed_headers(body))
    assert response.status_code == 200, response.text


def test_send_then_statuses_in_the_wrong_order_ends_read(
    server: str, fake_graph: FakeGraph
) -> None:
    with httpx.Client(base_url=server, timeout=15) as http:
        _deliver(http, inbound(text_message("Where is my order?")))

        sent = http.post(
            "/api/whatsapp/messages/",
            json={"type": "text", "to": CUSTOMER_NUMBER, "body": "It arrives tomorrow."},
            headers=AUTH,
        )
        assert sent.status_code == 201, sent.text
        wamid = sent.json()["message_id"]
        assert sent.json()["status"] == "accepted"

        for reported in ("read", "sent", "delivered"):
            _deliver(http, status_update(status(wamid, reported)))

        message = http.get(f"/api/whatsapp/messages/{wamid}", headers=AUTH).json()

    assert [m["text"]["body"] for m in fake_graph.sent_messages()] == ["It arrives tomorrow."]
    assert message["status"] == "read"
    assert message["direction"] == "out"

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

from tests.conftest import API_KEY, signed_headers
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
from tests.support.processes import running_server

pytestmark = pytest.mark.e2e

AUTH = {"Authorization": f"Bearer {API_KEY}"}


@pytest.fixture
def server(service_env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """The real service with its worker, pointed at the fake Graph API; yields its URL."""
    with running_server(service_env, tmp_path / "server.log") as url:
        yield url


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

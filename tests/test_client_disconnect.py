"""A client that hangs up mid-body is a debug line: no traceback, nothing at error level.

uvicorn tells the app of a lost connection by answering its next receive() with
`http.disconnect`; Starlette turns that into ClientDisconnect wherever the body is read.
The app is called here the way uvicorn calls it, with a body cut short.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from starlette.types import Message

from app.main import create_app
from tests.conftest import API_KEY, make_settings


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[Any]:
    application = create_app(make_settings(f"sqlite+aiosqlite:///{tmp_path}/inbox.db", tmp_path))
    yield application
    await application.state.runtime.close()


async def post_and_hang_up(app: Any, path: str) -> list[Message]:
    """POST to `path` announcing 1000 bytes, send 10, disconnect; what the app sent back."""
    incoming: list[Message] = [
        {"type": "http.request", "body": b'{"message_', "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/json"),
            (b"content-length", b"1000"),
            (b"authorization", f"Bearer {API_KEY}".encode()),
            (b"x-hub-signature-256", b"sha256=" + b"0" * 64),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)
    return sent


@pytest.mark.parametrize(
    "path",
    [
        # The webhook reads its raw body in a dependency (the signature covers it).
        "/api/whatsapp/webhook/",
        # FastAPI reads and parses a JSON body itself.
        "/api/whatsapp/mark-read/",
    ],
)
async def test_a_client_hanging_up_mid_body_is_logged_at_debug_without_a_traceback(
    app: Any, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="app")
    await post_and_hang_up(app, path)
    assert [r.getMessage() for r in caplog.records if r.name == "app.errors"] == [
        f"client disconnected during POST {path}"
    ]
    assert all(r.levelno < logging.WARNING for r in caplog.records)
    assert all(r.exc_info is None for r in caplog.records)

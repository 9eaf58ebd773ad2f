"""A subscriber service to deliver to, and the worker and dispatcher that deliver."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.config import Settings
from app.jobs.worker import Worker
from app.runtime import Runtime
from app.subscriptions.dispatcher import Dispatcher
from tests.conftest import make_settings
from tests.support.databases import TestDatabase
from tests.support.live_server import serving
from tests.support.processes import free_port

SUBSCRIPTIONS = "/api/whatsapp/subscriptions/"


@pytest.fixture
def settings(database: TestDatabase, tmp_path: Path) -> Settings:
    """Loopback allowed (the subscriber runs here), quick retries, few attempts."""
    return make_settings(
        database.url,
        tmp_path,
        subscription_blocked_networks="169.254.0.0/16,fe80::/10",
        subscription_max_attempts=40,
        job_backoff_base_seconds=0.05,
        job_backoff_max_seconds=0.3,
        worker_poll_seconds=0.05,
    )


@dataclass
class Received:
    """One POST the subscriber got."""

    headers: dict[str, str]
    body: bytes


@dataclass
class Subscriber:
    """A service that takes events at /hook on a fixed port, and can go down and up."""

    port: int = field(default_factory=free_port)
    received: list[Received] = field(default_factory=list)
    status_code: int = 200
    redirects_to: str | None = None

    @property
    def url(self) -> str:
        """Where the service takes events."""
        return f"http://127.0.0.1:{self.port}/hook"

    def app(self) -> Starlette:
        """The service as an ASGI app."""

        async def hook(request: Request) -> Response:
            self.received.append(Received(dict(request.headers), await request.body()))
            if self.redirects_to:
                return Response(status_code=302, headers={"Location": self.redirects_to})
            return Response(status_code=self.status_code)

        async def elsewhere(request: Request) -> Response:
            self.received.append(Received(dict(request.headers), b"redirected"))
            return Response(status_code=200)

        return Starlette(
            routes=[
                Route("/hook", hook, methods=["POST"]),
                Route("/elsewhere", elsewhere, methods=["POST", "GET"]),
            ]
        )

    @asynccontextmanager
    async def up(self) -> AsyncIterator[None]:
        """The service listening for the length of the block."""
        async with serving(self.app(), self.port):
            yield


@pytest.fixture
def subscriber() -> Subscriber:
    """A subscriber service, down until a test brings it up."""
    return Subscriber()


@asynccontextmanager
async def delivering(runtime: Runtime) -> AsyncIterator[None]:
    """The worker and the dispatcher running, as they do beside the web app."""
    await runtime.changes.start()
    worker = Worker(runtime, concurrency=2)
    dispatcher = Dispatcher(runtime)
    await worker.start()
    await dispatcher.start()
    try:
        yield
    finally:
        await dispatcher.stop()
        await worker.stop()
        await runtime.changes.close()


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 20.0) -> None:
    """Wait until `check()` is true, failing after `within` seconds."""
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


def json_of(received: Received) -> Any:
    """The body of a POST the subscriber got, as JSON."""
    return json.loads(received.body)

"""Counts each webhook POST's outcome and latency where its answer goes out."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.metrics.registry import webhook_answered


class WebhookMetrics:
    """Pure ASGI, so that the busiest route pays two clock reads and two increments.

    Every other request passes through untouched.
    """

    def __init__(self, app: ASGIApp, path: str) -> None:
        self.app = app
        # The route answers with and without its trailing slash.
        self.paths = (path, path.rstrip("/"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            webhook_answered(status, time.perf_counter() - started)

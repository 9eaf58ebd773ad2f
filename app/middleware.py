"""ASGI middleware that guards every request before a route sees it."""

from __future__ import annotations

import json
import re
import uuid
from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import log

# Longer query strings are refused (422): no parameter of the service needs this much.
MAX_QUERY_BYTES = 16 * 1024


async def _send_json(send: Send, status: int, error: str, detail: str) -> None:
    body = json.dumps({"error": error, "detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class QueryGuard:
    """Answer 422 (JSON, as every invalid parameter) to a NUL character in the path or the
    query, or to a query string over MAX_QUERY_BYTES, before any route or database sees
    them.

    No column, LIKE pattern or identifier takes a NUL (PostgreSQL refuses it outright),
    so a NUL can only mean a broken or hostile client; routes then never have to check.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query: bytes = scope.get("query_string", b"")
        if len(query) > MAX_QUERY_BYTES:
            await _send_json(
                send,
                422,
                "validation_error",
                f"the query string is longer than the limit of {MAX_QUERY_BYTES} bytes",
            )
            return
        if "\x00" in scope["path"] or b"\x00" in unquote_to_bytes(query):
            await _send_json(
                send,
                422,
                "validation_error",
                "the path or a query parameter contains a NUL character",
            )
            return
        await self.app(scope, receive, send)


class BodyTooLarge(Exception):
    """Raised inside receive() when a streamed body passes the limit."""


class BodySizeLimit:
    """Answer 413 (JSON) to a body over `max_bytes`, by Content-Length or while streaming.

    Paths under `exempt_prefixes` (file uploads) enforce their own limits.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, exempt_prefixes: tuple[str, ...] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.exempt_prefixes = exempt_prefixes

    async def _reject(self, send: Send) -> None:
        await _send_json(
            send,
            413,
            "payload_too_large",
            f"request body is larger than the limit of {self.max_bytes} bytes",
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.exempt_prefixes):
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.max_bytes:
                    await self._reject(send)
                    return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._reject(send)


# A request id a client may choose: short, printable, no spaces (it goes into logs).
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:/+=-]{1,128}")


class RequestId:
    """Give each request an id: the client's X-Request-ID when usable, else a new one.

    The id is in every log line written while the request runs (app.log.request_id) and
    in the answer's X-Request-ID header, so a client's report finds the server's lines.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope["headers"] if k == b"x-request-id"), b"").decode(
            "latin-1"
        )
        value = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        header = (b"x-request-id", value.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        token = log.request_id.set(value)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            log.request_id.reset(token)

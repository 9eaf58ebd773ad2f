"""What every admin request and response goes through: forged requests are refused, and
pages can be neither framed nor kept in a cache.

Every request that changes state (any method but GET, HEAD and OPTIONS) must come from a
page of this service, by its Origin header (or, when a browser sends none, its Referer),
and, once logged in, carry the session's CSRF token as the form field `csrf_token` or the
header `X-CSRF-Token`. SameSite=Strict alone lets pages on sibling subdomains post; the
token does not.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
# Static files may be cached; pages and media may not (they show customers' data).
STATIC_PREFIXES = ("/statics/", "/inbox-statics/")
SECURITY_HEADERS = [
    (b"content-security-policy", b"frame-ancestors 'none'"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"x-content-type-options", b"nosniff"),
]


def _forbidden(detail: str) -> JSONResponse:
    return JSONResponse({"error": "forbidden", "detail": detail}, status_code=403)


def same_origin(headers: Headers) -> bool:
    """Whether the request was started by a page of this host (Origin, else Referer).

    Hosts are compared, not schemes: behind a TLS-terminating proxy the service may see
    http while the browser says https.
    """
    host = headers.get("host", "")
    source = headers.get("origin") or headers.get("referer")
    if not source or source == "null" or not host:
        return False
    return urlsplit(source).netloc == host


class AdminRequestGuard:
    """ASGI middleware of the admin app, inside its session middleware.

    `expected_token(request)` gives the CSRF token of the request's session ("" when not
    logged in); `unauthenticated` are the paths (under the admin) that take a POST before
    there is a session: the login form, protected by the Origin check alone.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        expected_token: Callable[[Request], str],
        unauthenticated: tuple[str, ...] = ("/login",),
    ) -> None:
        self.app = app
        self.expected_token = expected_token
        self.unauthenticated = unauthenticated

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"][len(scope.get("root_path", "")) :]
        cacheable = path.startswith(STATIC_PREFIXES)

        async def secured_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.extend(SECURITY_HEADERS)
                if not cacheable:
                    headers = [(k, v) for k, v in headers if k.lower() != b"cache-control"]
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        if scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, secured_send)
            return
        if not same_origin(Headers(scope=scope)):
            await _forbidden("the request did not come from a page of this admin panel")(
                scope, receive, secured_send
            )
            return
        if path in self.unauthenticated:
            await self.app(scope, receive, secured_send)
            return
        body = await _read_body(receive)
        request = Request(scope, _replayer(body, receive))
        expected = self.expected_token(request)
        given = request.headers.get(CSRF_HEADER) or await _form_token(request)
        if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
            await _forbidden("the form is missing its CSRF token or it is out of date; reload")(
                scope, receive, secured_send
            )
            return
        await self.app(scope, _replayer(body, receive), secured_send)


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replayer(body: bytes, receive: Receive) -> Receive:
    """A receive() that gives `body` (already read) once, then waits on the real one."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


async def _form_token(request: Request) -> str:
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        return ""
    try:
        form = await request.form()
    except HTTPException:
        # A body that does not parse as the form it claims to be carries no token.
        return ""
    value = form.get(CSRF_FIELD)
    await form.close()
    return value if isinstance(value, str) else ""

"""The webhook's deliveries answered ahead of routing.

Meta's deliveries are most of what the service handles, and each one is small: the
router's matching and the layers around every route cost about as much as storing one.
This middleware sits inside the body-size limit and hands a POST to the webhook's path
straight to its endpoint, mapping exceptions with the application's own handlers, so
the answer is the one the route would give. Every other request goes on as usual.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from app.webhook.endpoints import receive_webhook

ExceptionHandlers = Mapping[Any, Any]


class WebhookFastPath:
    """Answer POST `paths` with the webhook endpoint; pass everything else to `app`."""

    def __init__(
        self, app: ASGIApp, paths: tuple[str, ...], exception_handlers: ExceptionHandlers
    ) -> None:
        self.app = app
        self.paths = frozenset(paths)
        # The application's mapping, filled in after the middleware is declared.
        self.exception_handlers = exception_handlers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await receive_webhook(request)
        except Exception as exc:
            handler = self._handler_for(exc)
            if handler is None:
                raise
            response = await handler(request, exc)
        await response(scope, receive, send)

    def _handler_for(self, exc: Exception) -> Any:
        for cls in type(exc).__mro__:
            if cls in self.exception_handlers:
                return self.exception_handlers[cls]
        return None

"""The busiest routes answered ahead of routing.

Meta's deliveries are most of what the service handles, and the lists are what internal
services poll; each such request is small, and FastAPI's routing, dependency resolution
and the layers around every route cost about as much as answering it (measured: a
customer's messages at 1,900 answers/s through the router, 2,400/s without it). This
middleware sits inside the body-size limit and hands each of these requests straight to
its handler, mapping exceptions with the application's own handlers, so the answer is
the one the route would give (tests/test_fast_paths.py compares the two). The routes
stay declared, for the OpenAPI document. Every other request goes on as usual.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from app.config import Settings
from app.deps import check_api_key, read_session
from app.runtime import Runtime

ExceptionHandlers = Mapping[Any, Any]
Handler = Callable[[Request], Awaitable[Response]]
P = TypeVar("P", bound=BaseModel)


class FastPaths:
    """Answer the (method, path) pairs of `routes` with their handler; pass everything
    else to `app`."""

    def __init__(
        self,
        app: ASGIApp,
        routes: Mapping[tuple[str, str], Handler],
        exception_handlers: ExceptionHandlers,
    ) -> None:
        self.app = app
        self.routes = dict(routes)
        # The application's mapping, filled in after the middleware is declared.
        self.exception_handlers = exception_handlers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = (
            self.routes.get((scope["method"], scope["path"])) if scope["type"] == "http" else None
        )
        if handler is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await handler(request)
        except Exception as exc:
            exception_handler = self._handler_for(exc)
            if exception_handler is None:
                raise
            response = await exception_handler(request, exc)
        await response(scope, receive, send)

    def _handler_for(self, exc: Exception) -> Any:
        for cls in type(exc).__mro__:
            if cls in self.exception_handlers:
                return self.exception_handlers[cls]
        return None


def query_model(model: type[P], query: QueryParams) -> P:
    """The query string read into `model` as FastAPI reads a query parameter model (by
    alias, the last value of a repeated name); RequestValidationError when it does not fit."""
    try:
        return model.model_validate(dict(query))
    except ValidationError as exc:
        errors = [{**error, "loc": ("query", *error["loc"])} for error in exc.errors()]
        raise RequestValidationError(errors) from None


def list_handler(
    model: type[P], page: Callable[[AsyncSession, Settings, P], Awaitable[Response]]
) -> Handler:
    """The handler of a list route that takes an API key and `model` as its query, and
    answers `page` of it from a read_session, as the declared route does."""

    async def handle(request: Request) -> Response:
        runtime: Runtime = request.app.state.runtime
        check_api_key(request.headers.get("authorization"), runtime.settings)
        params = query_model(model, request.query_params)
        async with read_session(runtime) as session:
            return await page(session, runtime.settings, params)

    return handle

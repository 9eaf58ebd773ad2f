"""Errors as JSON: every failure says what is wrong in one shape, mapped here once.

Body: `{"error": "<machine-readable code>", "detail": "<what is wrong>", ...}`.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from app.outage import DATABASE_ERRORS, RETRY_AFTER_SECONDS, is_database_unavailable

logger = logging.getLogger(__name__)


class DomainError(Exception):
    """Base of the errors a domain raises; each subclass says its HTTP status and code."""

    status_code = 400
    error = "bad_request"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra

    def body(self) -> dict[str, Any]:
        """The JSON body of the error response."""
        return {"error": self.error, "detail": self.detail, **self.extra}


class BadRequest(DomainError):
    """The request cannot be understood."""


class Unauthorized(DomainError):
    """No valid API key."""

    status_code = 401
    error = "unauthorized"


class Forbidden(DomainError):
    """Authenticated wrongly (bad signature or verify token)."""

    status_code = 403
    error = "forbidden"


class NotFound(DomainError):
    """The thing asked for does not exist."""

    status_code = 404
    error = "not_found"


class PayloadTooLarge(DomainError):
    """The body is over the configured limit."""

    status_code = 413
    error = "payload_too_large"


class ErrorBody(BaseModel):
    """The JSON body of every error response, as documented in OpenAPI."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={"examples": [{"error": "not_found", "detail": "no such message"}]},
    )

    error: str
    detail: str


# What each error status means for a route of the JSON API, for its OpenAPI `responses`.
_ERROR_DESCRIPTIONS = {
    400: "The request cannot be understood",
    401: "No API key, or not a valid one (send `Authorization: Bearer <key>`)",
    404: "Nothing with that id exists",
    413: "The body is larger than the configured limit",
    422: "A parameter or the body is invalid; `detail` says which and why",
}


def error_responses(*status_codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` documenting the given error statuses with the error body."""
    return {
        code: {"model": ErrorBody, "description": _ERROR_DESCRIPTIONS[code]}
        for code in status_codes
    }


def error_response(status_code: int, body: dict[str, Any]) -> JSONResponse:
    """A JSON error response; 401s say how to authenticate."""
    headers = {"WWW-Authenticate": "Bearer"} if status_code == 401 else None
    return JSONResponse(body, status_code=status_code, headers=headers)


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
}


async def _domain_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return error_response(exc.status_code, exc.body())


def database_unavailable_response(
    detail: str = "the database could not be reached",
) -> JSONResponse:
    """The 503 of a request the database failed; Retry-After says when to try again."""
    return JSONResponse(
        {"error": "database_unavailable", "detail": detail},
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    cause = exc.__cause__
    if isinstance(cause, ClientDisconnect):
        # FastAPI turns a disconnect while it reads a JSON or form body into a 400.
        return _client_gone(request)
    if isinstance(cause, UnicodeDecodeError | RecursionError):
        # FastAPI answers a JSON body it cannot decode (not UTF-8, or nested too deeply for
        # the parser) with a bare 400; it is invalid JSON like any other, so it gets the
        # same 422 naming the body.
        why = "not valid UTF-8" if isinstance(cause, UnicodeDecodeError) else "nested too deeply"
        return _invalid_body(f"JSON decode error: {why}")
    code = _HTTP_CODES.get(exc.status_code, "error")
    return error_response(exc.status_code, {"error": code, "detail": exc.detail})


def _invalid_body(message: str) -> JSONResponse:
    errors = [{"loc": ["body"], "msg": message, "type": "json_invalid"}]
    return error_response(
        422, {"error": "validation_error", "detail": f"body: {message}", "errors": errors}
    )


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "loc": list(err.get("loc", ())),
            "msg": err.get("msg"),
            "type": err.get("type"),
        }
        for err in exc.errors()
    ]
    summary = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors)
    return error_response(
        422, {"error": "validation_error", "detail": summary or "invalid request", "errors": errors}
    )


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    if is_database_unavailable(exc):
        # An outage fails every request alike: the tracker logs its start and end once,
        # not a line per request.
        request.app.state.runtime.outage.failed(exc, refused_request=True)
        return database_unavailable_response()
    # Not an outage (a constraint, a missing table): each one is worth a line. Logged
    # without the message, which may quote parameters holding message text.
    logger.error("database error: %s", type(exc).__name__)
    return database_unavailable_response("the database could not complete the request")


def _client_gone(request: Request) -> JSONResponse:
    # Nobody is left to read the answer, and a client hanging up is no fault of the
    # service: no traceback, and nothing at error level.
    logger.debug("client disconnected during %s %s", request.method, request.url.path)
    return error_response(400, {"error": "client_disconnected", "detail": "the client went away"})


async def _client_disconnect(request: Request, _exc: Exception) -> JSONResponse:
    return _client_gone(request)


def install_error_handlers(app: FastAPI) -> None:
    """Register every mapping from exception to JSON error response."""
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(ClientDisconnect, _client_disconnect)
    for database_error in DATABASE_ERRORS:
        app.add_exception_handler(database_error, _database_error)

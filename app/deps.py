"""Dependencies that routes declare in their signatures."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.errors import Unauthorized
from app.outbound.graph import GraphClient
from app.runtime import Runtime


async def get_runtime(request: Request) -> Runtime:
    """The process's Runtime, set up by the app's lifespan."""
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_settings(runtime: RuntimeDep) -> Settings:
    """The settings this app was created with."""
    return runtime.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_now(runtime: RuntimeDep) -> datetime:
    """The time of this request, read once from the runtime's clock."""
    return runtime.clock()


# FastAPI resolves a dependency once per request, so every use within a request agrees.
NowDep = Annotated[datetime, Depends(get_now)]


async def get_graph(runtime: RuntimeDep) -> GraphClient:
    """The process-wide Graph API client."""
    return runtime.graph


GraphDep = Annotated[GraphClient, Depends(get_graph)]


async def get_session(runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    """A session per request, committed before the response is sent.

    The dependency has function scope, so the commit runs before the response goes out
    and a failed commit becomes an error response instead of a silent loss. A commit
    that worked ends a database outage, if there was one.
    """
    async with runtime.sessions() as session:
        try:
            yield session
            await session.commit()
            runtime.outage.succeeded()
        except BaseException:
            await session.rollback()
            raise


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


@asynccontextmanager
async def read_session(runtime: Runtime) -> AsyncIterator[AsyncSession]:
    """A session for a request that only reads: nothing to commit, and on PostgreSQL no
    transaction either (app.db.read_only). A read that worked ends a database outage."""
    async with runtime.reads() as session:
        yield session
        runtime.outage.succeeded()


async def get_read_session(runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    """A read_session per request, for routes that only read."""
    async with read_session(runtime) as session:
        yield session


ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session, scope="function")]

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="An API key from the API_KEYS setting, sent as `Authorization: Bearer <key>`.",
)


async def require_api_key(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> None:
    """Let the request through only with one of the configured API keys."""
    check_credentials(credentials.credentials if credentials else None, settings)


def check_api_key(authorization: str | None, settings: Settings) -> None:
    """`require_api_key` for an Authorization header read without the dependency, as
    the `bearer` scheme reads it."""
    scheme, credentials = get_authorization_scheme_param(authorization)
    is_bearer = bool(credentials) and scheme.lower() == "bearer"
    check_credentials(credentials if is_bearer else None, settings)


def check_credentials(offered: str | None, settings: Settings) -> None:
    """Raise Unauthorized unless `offered` (a bearer token, None when there is none) is
    one of the configured API keys."""
    if offered is None:
        raise Unauthorized("missing API key: send Authorization: Bearer <key>")
    if not matches_a_key(offered, settings.api_keys):
        raise Unauthorized("invalid API key")


def matches_a_key(offered: str, keys: Iterable[SecretStr]) -> bool:
    """True when `offered` is one of `keys` (empty keys never match)."""
    # Compare against every key, without stopping early, so timing says nothing.
    valid = False
    for key in keys:
        secret = key.get_secret_value().encode()
        valid |= hmac.compare_digest(offered.encode(), secret) and bool(secret)
    return valid


ApiKeyDep = Depends(require_api_key)

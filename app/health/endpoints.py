"""Liveness and readiness probes for the platform's health checks."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text

from app.deps import RuntimeDep
from app.errors import database_unavailable_response
from app.outage import is_database_unavailable

router = APIRouter(tags=["health"])


class Health(BaseModel):
    """A probe's answer."""

    status: Literal["ok"] = "ok"


@router.get("/healthz", response_model=Health, summary="The process is alive")
async def healthz() -> Health:
    """Answers 200 while the process runs; checks nothing else."""
    return Health()


@router.get(
    "/readyz",
    response_model=Health,
    summary="The database is reachable",
    responses={503: {"description": "The database cannot be reached"}},
)
async def readyz(runtime: RuntimeDep) -> Health | object:
    """Answers 200 when a query against the database succeeds, else 503."""
    try:
        async with runtime.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:
        # The probe answers 503 for any failure, but only an outage is one for the log.
        if is_database_unavailable(exc):
            runtime.outage.failed(exc, refused_request=True)
        return database_unavailable_response()
    runtime.outage.succeeded()
    return Health()

"""`whatsapp-inbox serve`: migrate once, then run one or more uvicorn web processes.

With several processes, uvicorn's supervisor binds the socket and starts each process,
which imports `worker_app` and builds its own app (engine, HTTP clients, and the job
worker unless WORKER_ENABLED=false) from the environment. The supervisor restarts a
process that dies. Jobs are claimed with FOR UPDATE SKIP LOCKED on PostgreSQL and
inside BEGIN IMMEDIATE on SQLite, so each job runs in one process only.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from app.config import Settings
from app.db import is_in_memory_sqlite
from app.log import configure_logging
from app.migrate import upgrade_database

if TYPE_CHECKING:
    from fastapi import FastAPI

# What each web process imports: a factory, because an app object cannot be handed to
# processes that uvicorn starts afresh.
WORKER_APP = "app.serve:worker_app"


class CannotServe(ValueError):
    """The settings and the number of processes do not go together."""


def check_workers(settings: Settings, workers: int) -> None:
    """Refuse several processes on a database that one process alone can see."""
    if workers > 1 and is_in_memory_sqlite(settings.database_url):
        raise CannotServe(
            f"{workers} web processes need a database they share, and an in-memory "
            "SQLite database exists in one process only; use an SQLite file or "
            "PostgreSQL, or one process (--workers 1)"
        )


def share_with_workers(generated: dict[str, str]) -> None:
    """Put settings generated for this run into the environment the processes inherit.

    Otherwise each process would draw random secrets of its own, and every process would
    refuse the development API key that the parent printed.
    """
    os.environ.update(generated)


def worker_app() -> FastAPI:
    """The app of one web process, from the settings its parent checked and shared."""
    from app.main import create_app

    settings = Settings()
    configure_logging(settings.log_level)
    return create_app(settings)


def serve(settings: Settings, *, host: str, port: int, workers: int) -> None:
    """Migrate the database once, then serve with `workers` processes until stopped."""
    import uvicorn

    check_workers(settings, workers)
    # Before any web process starts, so none serves (or migrates) an old schema.
    upgrade_database(settings.database_url, settings.database_pooler)
    processes = f" with {workers} web processes" if workers > 1 else ""
    print(
        f"whatsapp-inbox listening on http://{host}:{port}{processes}  (API docs: /docs)",
        file=sys.stderr,
    )
    uvicorn.run(
        WORKER_APP,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level,
        # Forwarded headers are believed only from the proxies the operator names;
        # otherwise anyone could choose the address that lockouts and logs see.
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=",".join(settings.trusted_proxies),
    )

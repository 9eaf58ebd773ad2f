"""`whatsapp-inbox serve`: migrate once, then run one or more uvicorn web processes.

With several processes, uvicorn's supervisor binds the socket and starts each process,
which imports `worker_app` and builds its own app (engine, HTTP clients, and the job
worker unless WORKER_ENABLED=false) from the environment. The supervisor restarts a
process that dies. Jobs are claimed with FOR UPDATE SKIP LOCKED on PostgreSQL and
inside BEGIN IMMEDIATE on SQLite, so each job runs in one process only.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from typing import TYPE_CHECKING

from app.config import Settings
from app.db import is_in_memory_sqlite
from app.log import configure_logging, log_config
from app.metrics import MULTIPROC_ENV
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
    configure_logging(settings.log_level, settings.log_format)
    return create_app(settings)


def _empty_metrics_dir(path: str) -> None:
    """Make `path` an empty metrics directory: files of an earlier run would add up too."""
    os.makedirs(path, exist_ok=True)
    for name in os.listdir(path):
        if name.endswith(".db"):
            os.remove(os.path.join(path, name))


def share_metrics(workers: int) -> str | None:
    """Set up the directory where web processes keep their metrics; before they start.

    PROMETHEUS_MULTIPROC_DIR when given, else (for several processes) a new temporary
    directory, which is returned so that the caller removes it at the end. Either way it
    starts empty: counters left by an earlier run would be added to this one's.
    """
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        _empty_metrics_dir(given)
        return None
    if workers == 1:
        return None
    made = tempfile.mkdtemp(prefix="whatsapp-inbox-metrics-")
    os.environ[MULTIPROC_ENV] = made
    return made


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
    made = share_metrics(workers)
    try:
        uvicorn.run(
            WORKER_APP,
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=settings.log_level,
            log_config=log_config(settings.log_level, settings.log_format),
            # Forwarded headers are believed only from the proxies the operator names;
            # otherwise anyone could choose the address that lockouts and logs see.
            proxy_headers=bool(settings.trusted_proxies),
            forwarded_allow_ips=",".join(settings.trusted_proxies),
        )
    finally:
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)

"""Webhook ingestion of the service against the bare ceiling of its own stack, side by side.

Starts, on this machine, (a) `whatsapp-inbox serve` with N web processes on a fresh
database and (b) `benchmarks/bare_app.py` (FastAPI and the signature check only, no
database) under uvicorn with the same N processes, then loads each with wrk: signed
deliveries with unique wamids (`benchmarks/ingest_bodies.py`, `benchmarks/webhook.lua`),
alternating service and ceiling ROUNDS times. It checks that every 2xx delivery of the
service was stored, and prints each round, a JSON line of the medians and, last, the
ratio service/ceiling. Figures are only comparable within one run. With --statuses the
timed load is status updates (sent, delivered, read) of messages stored just before,
untimed, as Meta sends them for every message a business sends.

    .venv/bin/python -m benchmarks.ingest_ratio --workers 2 --connections 64
    .venv/bin/python -m benchmarks.ingest_ratio --workers 2 --connections 64 --batch 10 \\
        --customers 1 --statuses --seconds 10 --rounds 2 --backend sqlite

It exits 1 when a delivery answered 2xx was not stored, when the ratio is below
--min-ratio, or when the service's p99 is above --max-p99-ms. Needs wrk (apt-get install
wrk) and, for PostgreSQL, the server of TEST_POSTGRES_URL (default 127.0.0.1:5432).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx

from benchmarks.ingest_bodies import message_wamid_prefix, write_messages, write_statuses
from tests.support.databases import TestDatabase, create_database
from tests.support.payloads import WEBHOOK_URL
from tests.support.processes import ROOT, free_port

SECRET = "bench-secret"
HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
WRK_THREADS = 2
MESSAGES = "whatsapp_whatsappmessage"
STATUSES = "whatsapp_whatsappmessagestatus"


@dataclass
class Load:
    """What wrk measured in one run, and for the service what was stored meanwhile."""

    requests: float
    non2xx: float
    p50_ms: float
    p99_ms: float
    per_s: float
    stored: int = 0
    expected: int = 0


@dataclass
class Options:
    """The command line."""

    workers: int
    connections: int
    seconds: int
    rounds: int
    batch: int
    customers: int
    statuses: bool
    backend: str
    min_ratio: float | None
    max_p99_ms: float | None


def _parse_args() -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2, help="web processes of each server")
    parser.add_argument("--connections", type=int, default=64, help="wrk's open connections")
    parser.add_argument("--seconds", type=int, default=10, help="length of each timed load")
    parser.add_argument("--rounds", type=int, default=2, help="service and ceiling, alternated")
    parser.add_argument("--batch", type=int, default=1, help="messages per delivery")
    parser.add_argument(
        "--customers", type=int, default=1000, help="distinct senders (1 = one hot conversation)"
    )
    parser.add_argument(
        "--statuses",
        action="store_true",
        help="status updates of messages that exist (stored first, untimed) instead of messages",
    )
    parser.add_argument("--backend", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--min-ratio", type=float, help="exit 1 when service/ceiling is below")
    parser.add_argument("--max-p99-ms", type=float, help="exit 1 when the service's p99 is above")
    args = parser.parse_args()
    return Options(**vars(args))


# The database --------------------------------------------------------------------------


def _query(database: TestDatabase, sql: str) -> list[tuple[object, ...]]:
    """The rows `sql` selects, read with a connection of its own."""
    if database.backend == "sqlite":
        with closing(sqlite3.connect(database.name)) as connection:
            return connection.execute(sql).fetchall()

    async def fetch() -> list[tuple[object, ...]]:
        connection = await asyncpg.connect(database.url.replace("+asyncpg", ""))
        try:
            return [tuple(row) for row in await connection.fetch(sql)]
        finally:
            await connection.close()

    return asyncio.run(fetch())


def _count(database: TestDatabase, table: str) -> int:
    return int(str(_query(database, f"SELECT count(*) FROM {table}")[0][0]))


def _wamids(database: TestDatabase, tag: str) -> list[str]:
    """The wamids of the stored messages written with `tag`, in order."""
    sql = (
        f"SELECT message_id FROM {MESSAGES} "
        f"WHERE message_id LIKE '{message_wamid_prefix(tag)}%' ORDER BY message_id"
    )
    return [str(row[0]) for row in _query(database, sql)]


# The servers ---------------------------------------------------------------------------


def _stop(process: subprocess.Popen[bytes]) -> None:
    """End the server and every process it started."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        pass


@contextmanager
def _running(
    command: Callable[[int], list[str]],
    env: dict[str, str],
    log: Path,
    is_up: Callable[[httpx.Client], bool],
) -> Iterator[str]:
    """A server started with `command(port)` in a session of its own; yields its URL once
    `is_up` says so."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as output:
        process = subprocess.Popen(
            command(port),
            env=env,
            cwd=log.parent,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        with httpx.Client(base_url=url, timeout=1) as http:
            for _ in range(600):
                if process.poll() is not None:
                    sys.exit(f"the server exited at start-up:\n{log.read_text(errors='replace')}")
                try:
                    if is_up(http):
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            else:
                sys.exit(f"the server did not come up:\n{log.read_text(errors='replace')}")
        yield url
    finally:
        _stop(process)


def _service_is_up(http: httpx.Client) -> bool:
    return http.get("/healthz").status_code == 200


def _ceiling_is_up(http: httpx.Client) -> bool:
    # It has no other route; an unsigned body is refused once it listens.
    return http.post(WEBHOOK_URL, content=b"{}").status_code == 403


def _service_command(workers: int) -> Callable[[int], list[str]]:
    return lambda port: [
        *(str(BIN / "whatsapp-inbox"), "serve", "--host", "127.0.0.1"),
        *("--port", str(port), "--workers", str(workers)),
    ]


def _ceiling_command(workers: int) -> Callable[[int], list[str]]:
    return lambda port: [
        *(str(BIN / "uvicorn"), "benchmarks.bare_app:app", "--app-dir", str(ROOT)),
        *("--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)),
        *("--no-access-log", "--log-level", "warning"),
    ]


# The load ------------------------------------------------------------------------------


def _wrk(url: str, bodies: Path, options: Options, label: str) -> Load:
    """Post the deliveries of `bodies` for --seconds with --connections; what wrk saw."""
    env = {**os.environ, "BODIES": str(bodies), "WRK_THREADS": str(WRK_THREADS)}
    command = [
        *("wrk", f"-t{WRK_THREADS}", f"-c{options.connections}", f"-d{options.seconds}s"),
        *("-s", str(HERE / "webhook.lua"), url),
    ]
    output = subprocess.run(command, env=env, capture_output=True, text=True).stdout
    line = next((line for line in output.splitlines() if line.startswith("RESULT")), None)
    if line is None:
        sys.exit(f"wrk printed no RESULT for {label}:\n{output}")
    figures = {key: float(value) for key, value in (kv.split("=") for kv in line.split()[1:])}
    per_s = (figures["requests"] - figures["non2xx"]) / options.seconds
    return Load(figures["requests"], figures["non2xx"], figures["p50_ms"], figures["p99_ms"], per_s)


def _service_round(
    url: str, database: TestDatabase, work: Path, options: Options, round_: int, lines: int
) -> Load:
    """Warm the service up, then time it; count what it stored of the timed deliveries."""
    pid = os.getpid()

    def messages(tag: str, deliveries: int) -> Path:
        return write_messages(
            work / f"{tag}.tsv",
            deliveries,
            secret=SECRET,
            tag=tag,
            batch=options.batch,
            customers=options.customers,
        )

    _wrk(url, messages(f"w{pid}r{round_}", 500), options, "warm-up")
    tag = f"m{pid}r{round_}"
    if options.statuses:  # store messages first (untimed), then time sent/delivered/read
        _wrk(url, messages(tag, lines), options, "messages for the statuses")
        wamids = _wamids(database, tag)
        before = _count(database, STATUSES)
        bodies = write_statuses(
            work / f"{tag}-statuses.tsv", wamids, secret=SECRET, batch=options.batch
        )
        load = _wrk(url, bodies, options, "service")
        if load.requests * options.batch >= 3 * len(wamids):
            print(
                "warning: the status updates ran out before the time did; "
                "the figure is a lower bound"
            )
        time.sleep(1)
        after = _count(database, STATUSES)
    else:
        before = _count(database, MESSAGES)
        load = _wrk(url, messages(tag, lines), options, "service")
        time.sleep(1)
        after = _count(database, MESSAGES)
    load.stored = after - before
    load.expected = int(load.requests - load.non2xx) * options.batch
    return load


def _ceiling_round(url: str, work: Path, options: Options, round_: int, lines: int) -> Load:
    tag = f"c{os.getpid()}r{round_}"
    bodies = write_messages(
        work / f"{tag}.tsv",
        lines,
        secret=SECRET,
        tag=tag,
        batch=options.batch,
        customers=options.customers,
    )
    return _wrk(url, bodies, options, "ceiling")


def _measure(options: Options, work: Path) -> dict[str, list[Load]]:
    """Alternate service and ceiling --rounds times on a fresh database."""
    database = create_database(options.backend, work, migrate=False)  # `serve` migrates
    env = {
        **os.environ,
        "DATABASE_URL": database.url,
        "WHATSAPP_APP_SECRET": SECRET,
        "WHATSAPP_VERIFY_TOKEN": "bench",
        "WHATSAPP_ACCESS_TOKEN": "bench",
        "API_KEYS": "bench-key",
        "ENVIRONMENT": "development",
        "LOG_LEVEL": "warning",
        "GRAPH_API_BASE_URL": "http://127.0.0.1:9",
    }
    lines = max(2000, int(12000 * options.seconds / options.batch))
    results: dict[str, list[Load]] = {"service": [], "ceiling": []}
    try:
        for round_ in range(options.rounds):
            service = _service_command(options.workers)
            with _running(service, env, work / f"service{round_}.log", _service_is_up) as url:
                load = _service_round(url, database, work, options, round_, lines)
            results["service"].append(load)
            print(
                f"round {round_} service: {load.per_s:.0f} deliveries/s "
                f"p50 {load.p50_ms:.1f} ms p99 {load.p99_ms:.1f} ms non2xx {load.non2xx:.0f} "
                f"stored {load.stored} (2xx x batch {load.expected:.0f})",
                flush=True,
            )
            ceiling = _ceiling_command(options.workers)
            with _running(ceiling, env, work / f"ceiling{round_}.log", _ceiling_is_up) as url:
                load = _ceiling_round(url, work, options, round_, lines)
            results["ceiling"].append(load)
            print(
                f"round {round_} ceiling: {load.per_s:.0f} deliveries/s "
                f"p50 {load.p50_ms:.1f} ms p99 {load.p99_ms:.1f} ms",
                flush=True,
            )
    finally:
        database.drop()
    return results


def main() -> None:
    """Run the benchmark, print its figures, and exit 1 when something was lost or a limit
    given was passed."""
    options = _parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: apt-get install -y wrk")
    with tempfile.TemporaryDirectory(prefix="ingest-ratio-") as directory:
        results = _measure(options, Path(directory))

    service = statistics.median(load.per_s for load in results["service"])
    ceiling = statistics.median(load.per_s for load in results["ceiling"])
    p99 = statistics.median(load.p99_ms for load in results["service"])
    lost = sum(max(0, load.expected - load.stored) for load in results["service"])
    ratio = service / ceiling if ceiling else 0.0
    summary = {
        "workers": options.workers,
        "connections": options.connections,
        "batch": options.batch,
        "customers": options.customers,
        "service_per_s": round(service),
        "service_messages_per_s": round(service * options.batch),
        "statuses": options.statuses,
        "ceiling_per_s": round(ceiling),
        "service_p99_ms": p99,
        "lost": lost,
        "backend": options.backend,
    }
    print(json.dumps(summary))
    items = "statuses" if options.statuses else "messages"
    print(
        f"ratio {ratio:.3f} (service {service:.0f} deliveries/s = "
        f"{service * options.batch:.0f} {items}/s, ceiling {ceiling:.0f}/s, "
        f"service p99 {p99:.0f} ms, lost {lost})"
    )

    failures: list[str] = []
    if lost:
        failures.append(f"{lost} {items} answered 2xx were not stored")
    if options.min_ratio is not None and ratio < options.min_ratio:
        failures.append(f"ratio {ratio:.3f} is below {options.min_ratio}")
    if options.max_p99_ms is not None and p99 > options.max_p99_ms:
        failures.append(f"service p99 {p99:.0f} ms is above {options.max_p99_ms:.0f} ms")
    for failure in failures:
        print(f"FAILED: {failure}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()

"""The largest deliveries Meta can send, and how the server answers others meanwhile.

Starts `whatsapp-inbox serve` on a fresh database and posts, one at a time, a delivery of
1,000 messages from 1,000 customers (Meta's largest batch), 1,000 messages of 4 KB each,
30,000 messages from 11,000 senders and 35,000 statuses (each body within the 4 MiB
limit), while another client, in a process of its own, asks /healthz every 10 ms, after
one untimed warm-up delivery. It prints how long each delivery
took and the slowest /healthz answer during it, and exits 1 when the 1,000-message
delivery takes 1 s or more, or a /healthz answer takes 100 ms or more.

    .venv/bin/python -m benchmarks.large_deliveries --backend postgresql
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event

import httpx

from benchmarks.server import SECRET, benchmark_server
from tests.support.large_bodies import messages_body, statuses_body
from tests.support.payloads import WEBHOOK_URL
from tests.support.signing import signature

HEALTH_LIMIT_S = 0.100
THOUSAND_LIMIT_S = 1.0


def _probe_health(url: str, ready: Event, stop: Event, out: Connection) -> None:
    """Time a /healthz request every 10 ms until `stop`; send the times through `out`.

    It runs in a process of its own: in the process that posts the large body, the
    client's own work on it (encoding, garbage collection) would delay the probes and be
    counted against the server.
    """
    probes: list[float] = []
    with httpx.Client(base_url=url, timeout=30) as http:
        while not stop.is_set():
            started = time.perf_counter()
            http.get("/healthz").raise_for_status()
            probes.append(time.perf_counter() - started)
            ready.set()
            time.sleep(0.01)
    out.send(probes)


def _deliver_while_probing(url: str, body: bytes) -> tuple[float, int, float, int]:
    """Post `body` while probing /healthz; its time, status, the slowest probe, and count."""
    context = multiprocessing.get_context("spawn")
    ready, stop = context.Event(), context.Event()
    receiving, sending = context.Pipe(duplex=False)
    prober = context.Process(target=_probe_health, args=(url, ready, stop, sending))
    prober.start()
    try:
        if not ready.wait(timeout=30):
            sys.exit("the /healthz prober did not start")
        headers = {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": signature(body, SECRET),
        }
        with httpx.Client(base_url=url, timeout=120) as sender:
            started = time.perf_counter()
            response = sender.post(WEBHOOK_URL, content=body, headers=headers)
            took = time.perf_counter() - started
        stop.set()
        probes: list[float] = receiving.recv()
    finally:
        stop.set()
        prober.join(timeout=30)
    return took, response.status_code, max(probes, default=0.0), len(probes)


def main() -> None:
    """Run the benchmark, print its figures, and exit 1 when a limit is passed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="postgresql")
    args = parser.parse_args()
    shapes = {
        "1,000 messages from 1,000 customers": messages_body(1000, 1000, tag="A"),
        "1,000 messages of 4 KB": messages_body(1000, 1000, text="x" * 4000, tag="B"),
        "30,000 messages from 11,000 senders": messages_body(30_000, 11_000, tag="C"),
        "35,000 statuses": statuses_body(35_000),
    }
    failures: list[str] = []
    with benchmark_server(args.backend) as url:
        # Untimed warm-up: the first large body starts the reader process.
        _deliver_while_probing(url, messages_body(500, 500, tag="W"))
        for name, body in shapes.items():
            took, status, slowest, probes = _deliver_while_probing(url, body)
            print(
                f"{args.backend}: {name} ({len(body) / 1e6:.1f} MB): {status} in "
                f"{took:.2f} s; slowest of {probes} /healthz answers meanwhile "
                f"{slowest * 1000:.0f} ms",
                flush=True,
            )
            if status != 200:
                failures.append(f"{name} answered {status}")
            if slowest >= HEALTH_LIMIT_S:
                failures.append(f"/healthz took {slowest * 1000:.0f} ms during {name}")
            if name.startswith("1,000 messages from") and took >= THOUSAND_LIMIT_S:
                failures.append(f"{name} took {took:.2f} s")
    for failure in failures:
        print(f"FAILED: {failure}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()

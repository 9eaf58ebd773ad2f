"""Webhook answer times of the real server, against Meta's expectations.

Meta expects a median answer under 250 ms and fewer than 1% of answers over 1 s. This
starts `whatsapp-inbox serve` on a fresh database, sends signed deliveries (each with
several messages from distinct customers) from a number of concurrent senders, and
prints the median, 99th percentile and share over 1 s.

    .venv/bin/python -m benchmarks.webhook_latency --backend postgresql --deliveries 500
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import httpx

from benchmarks.server import SECRET, benchmark_server
from tests.support.payloads import WEBHOOK_URL, encode, inbound, text_message
from tests.support.signing import signature


async def _send(url: str, deliveries: int, per_delivery: int, senders: int) -> list[float]:
    bodies = [
        encode(
            inbound(
                *(
                    text_message(f"message {n}.{m}", from_=f"91980{(n * per_delivery + m):07d}")
                    for m in range(per_delivery)
                )
            )
        )
        for n in range(deliveries)
    ]
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    timings: list[float] = []

    async def sender(http: httpx.AsyncClient) -> None:
        while not queue.empty():
            body = queue.get_nowait()
            headers = {
                "Content-Type": "application/json",
                "X-Hub-Signature-256": signature(body, SECRET),
            }
            started = time.perf_counter()
            response = await http.post(WEBHOOK_URL, content=body, headers=headers)
            timings.append(time.perf_counter() - started)
            response.raise_for_status()

    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        await asyncio.gather(*(sender(http) for _ in range(senders)))
    return timings


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--deliveries", type=int, default=500)
    parser.add_argument("--messages-per-delivery", type=int, default=3)
    parser.add_argument("--senders", type=int, default=8, help="concurrent deliveries")
    args = parser.parse_args()

    with benchmark_server(args.backend) as url:
        timings = asyncio.run(_send(url, args.deliveries, args.messages_per_delivery, args.senders))

    timings.sort()
    median = statistics.median(timings) * 1000
    p99 = timings[int(len(timings) * 0.99) - 1] * 1000
    over = sum(t > 1 for t in timings) / len(timings) * 100
    print(
        f"{args.backend}: {len(timings)} deliveries of {args.messages_per_delivery} messages, "
        f"{args.senders} at once: median {median:.1f} ms, p99 {p99:.1f} ms, "
        f"{over:.2f}% over 1 s (Meta expects median < 250 ms, < 1% over 1 s)"
    )


if __name__ == "__main__":
    main()

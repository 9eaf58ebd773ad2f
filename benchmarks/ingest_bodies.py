"""Signed webhook deliveries for wrk (`benchmarks/webhook.lua`), one per line.

Each line is `<X-Hub-Signature-256 value>\\t<compact JSON body>`. Every message has a
unique wamid (`wamid.B<tag>M<n>`), so a server that stores each delivery inserts a row per
message. Messages come from `customers` distinct senders, `batch` to a delivery; status
updates name wamids that were stored before.

    .venv/bin/python -m benchmarks.ingest_bodies OUT 1000 --batch 10 --customers 1000
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from tests.support.payloads import (
    Payload,
    contact,
    inbound,
    status_update,
    text_message,
)
from tests.support.signing import signature

STATUS_RECIPIENT = "919900000001"


def message_wamid(tag: str, n: int) -> str:
    """The wamid of the n-th message written with `tag`."""
    return f"wamid.B{tag}M{n:09d}"


def message_wamid_prefix(tag: str) -> str:
    """What every wamid written with `tag` starts with (for a LIKE query)."""
    return f"wamid.B{tag}M"


def _line(payload: Payload, secret: str) -> bytes:
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return signature(body, secret).encode() + b"\t" + body + b"\n"


def _messages_payload(numbers: Iterable[int], *, tag: str, customers: int, now: int) -> Payload:
    messages: list[Payload] = []
    contacts: dict[str, Payload] = {}
    for n in numbers:
        customer = f"9199{n % customers:08d}"
        contacts[customer] = contact(customer, f"Customer {n % customers}")
        messages.append(
            text_message(
                f"Hello, I need help with order {n}",
                wamid=message_wamid(tag, n),
                from_=customer,
                timestamp=now + n % 600,
            )
        )
    return inbound(*messages, contacts=list(contacts.values()))


def write_messages(
    path: Path, deliveries: int, *, secret: str, tag: str, batch: int = 1, customers: int = 1000
) -> Path:
    """Write `deliveries` signed deliveries of `batch` text messages each to `path`."""
    now = int(time.time())
    with path.open("wb") as out:
        for delivery in range(deliveries):
            first = delivery * batch + 1
            numbers = range(first, first + batch)
            out.write(
                _line(_messages_payload(numbers, tag=tag, customers=customers, now=now), secret)
            )
    return path


def write_statuses(path: Path, wamids: Sequence[str], *, secret: str, batch: int = 1) -> Path:
    """Write signed deliveries of `batch` status updates each: sent, delivered and read for
    every wamid, as Meta reports them for each message a business sends."""
    now = str(int(time.time()))
    # Only the fields every status has, so the bodies stay as small as Meta's smallest.
    items = [
        {"id": wamid, "status": status, "timestamp": now, "recipient_id": STATUS_RECIPIENT}
        for status in ("sent", "delivered", "read")
        for wamid in wamids
    ]
    with path.open("wb") as out:
        for start in range(0, len(items), batch):
            out.write(_line(status_update(*items[start : start + batch]), secret))
    return path


def main() -> None:
    """Write message deliveries to a file."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("deliveries", type=int)
    parser.add_argument("--secret", default="bench-secret")
    parser.add_argument("--tag", default=str(int(time.time())), help="makes the wamids unique")
    parser.add_argument("--batch", type=int, default=1, help="messages per delivery")
    parser.add_argument("--customers", type=int, default=1000, help="distinct senders")
    args = parser.parse_args()
    write_messages(
        args.out,
        args.deliveries,
        secret=args.secret,
        tag=args.tag,
        batch=args.batch,
        customers=args.customers,
    )


if __name__ == "__main__":
    main()

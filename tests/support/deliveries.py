"""Meta's side of a busy webhook: many signed deliveries at once, each possibly repeated."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.conftest import signed_headers
from tests.support.payloads import WEBHOOK_URL


def _post(url: str, body: bytes) -> int:
    # A connection per delivery, as Meta's senders make: with several web processes on
    # one socket, the kernel hands each new connection to any of them.
    response = httpx.post(f"{url}{WEBHOOK_URL}", content=body, headers=signed_headers(body))
    return response.status_code


def deliver_concurrently(url: str, bodies: list[bytes], *, copies: int, senders: int) -> list[int]:
    """POST each body `copies` times (Meta retrying), `senders` at a time; the statuses."""
    deliveries = [body for body in bodies for _ in range(copies)]
    with ThreadPoolExecutor(max_workers=senders) as pool:
        return list(pool.map(lambda body: _post(url, body), deliveries))

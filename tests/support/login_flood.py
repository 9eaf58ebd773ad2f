"""A flood of admin logins with random usernames, each from an address of its own.

Run as `python -m tests.support.login_flood URL SECONDS ATTACKERS`: ATTACKERS clients each
post one login after another, with a random username and a new X-Forwarded-For, for at
most SECONDS or until SIGTERM; then the count of answers per status code is printed as
JSON. Tests run it at the lowest CPU priority (`nice`), as an attacker's own machine
would not take the server's CPU.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import uuid
from collections import Counter

import httpx


async def flood(url: str, seconds: float, attackers: int) -> Counter[int]:
    """Post logins from `attackers` concurrent clients until told to stop; count answers."""
    answers: Counter[int] = Counter()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.call_later(seconds, stop.set)
    limits = httpx.Limits(max_connections=attackers, max_keepalive_connections=attackers)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as http:

        async def attacker(n: int) -> None:
            while not stop.is_set():
                try:
                    response = await http.post(
                        "/admin/login",
                        data={"username": uuid.uuid4().hex, "password": "guess"},
                        # Posted as the login page would (the Origin check is not what is tested).
                        headers={
                            "Origin": url,
                            "X-Forwarded-For": f"10.{n}.{uuid.uuid4().int % 250}.1",
                        },
                    )
                except httpx.TransportError:
                    # A connection dropped under the flood is no answer: try again.
                    continue
                answers[response.status_code] += 1

        await asyncio.gather(*(attacker(n) for n in range(attackers)))
    return answers


if __name__ == "__main__":
    url, seconds, attackers = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    print(json.dumps(asyncio.run(flood(url, seconds, attackers))))

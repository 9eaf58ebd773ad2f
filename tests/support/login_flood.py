"""A flood of admin logins with random usernames, each from an address of its own.

Run as `python -m tests.support.login_flood URL SECONDS ATTACKERS`: ATTACKERS clients each
post one login after another for SECONDS, with a random username and a new
X-Forwarded-For, then the count of answers per status code is printed as JSON. Tests run
it at the lowest CPU priority (`nice`), as an attacker's own machine would not take the
server's CPU.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from collections import Counter

import httpx


async def flood(url: str, seconds: float, attackers: int) -> Counter[int]:
    """Post logins from `attackers` concurrent clients for `seconds`; count the answers."""
    answers: Counter[int] = Counter()
    limits = httpx.Limits(max_connections=attackers, max_keepalive_connections=attackers)
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as http:

        async def attacker(n: int) -> None:
            while time.monotonic() < deadline:
                response = await http.post(
                    "/admin/login",
                    data={"username": uuid.uuid4().hex, "password": "guess"},
                    headers={"X-Forwarded-For": f"10.{n}.{uuid.uuid4().int % 250}.1"},
                )
                answers[response.status_code] += 1

        await asyncio.gather(*(attacker(n) for n in range(attackers)))
    return answers


if __name__ == "__main__":
    url, seconds, attackers = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    print(json.dumps(asyncio.run(flood(url, seconds, attackers))))

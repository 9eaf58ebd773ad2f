"""What keeps the admin login from being flooded or guessed.

A password check (argon2, tens of MiB and about half a second of CPU each) is the
costliest thing a request can start, and the login form is open to anyone. So:

- at most `concurrency` checks run at once in a process; a login that cannot start its
  check within `wait_seconds` is refused with 429 instead of piling up threads and memory;
- failures lock out the account and the client address, each for a delay that doubles
  with every failure in a row; a key with a check in flight is locked out too, so that
  concurrent tries cannot slip past a lockout that their first failure is about to set;
- a global budget of failures per window bounds the guessing rate of an attacker with
  many addresses and usernames; spent, it refuses every login until the window moves on.

Checks run in a pool of their own whose threads (and the threads argon2 starts from
them) have the lowest CPU priority, so that webhooks and health checks always come first.

All of it is in memory and per process: enough to make guessing slow and flooding
harmless; the state is small and bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

# A lockout key: ("account", username) or ("address", client address).
Key = tuple[str, str]

DEFAULT_WAIT_SECONDS = 1.0
DEFAULT_BUDGET_WINDOW_SECONDS = 600.0
# How soon a login refused while another check of its key is running may try again.
IN_FLIGHT_RETRY_SECONDS = 1.0
# The nice value of password-check threads: the lowest priority.
PASSWORD_CHECK_NICE = 19


def _lower_priority() -> None:
    """Give the calling thread the lowest CPU priority (Linux sets it per thread)."""
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), PASSWORD_CHECK_NICE)


@dataclass
class _Failures:
    count: int
    locked_until: float


class LoginThrottle:
    """Failed logins per key: after the n-th failure in a row the key must wait
    `base * 2**(n-1)` seconds (at most `maximum`) before it may try again.

    At most `capacity` keys are remembered, the least recently failed forgotten first.
    """

    def __init__(
        self,
        base: float = 1.0,
        maximum: float = 60.0,
        capacity: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base = base
        self.maximum = maximum
        self.capacity = capacity
        self.clock = clock
        self._failures: OrderedDict[Key, _Failures] = OrderedDict()

    def wait_seconds(self, key: Key) -> float:
        """How long `key` must still wait before its next attempt (0 when it may try)."""
        failures = self._failures.get(key)
        if failures is None:
            return 0.0
        return max(0.0, failures.locked_until - self.clock())

    def failed(self, key: Key) -> float:
        """Record a failure of `key`; return the delay it now has to wait."""
        failures = self._failures.pop(key, None) or _Failures(count=0, locked_until=0.0)
        failures.count += 1
        growth: float = 2.0 ** min(failures.count - 1, 32)
        delay = min(self.base * growth, self.maximum)
        failures.locked_until = self.clock() + delay
        self._failures[key] = failures
        while len(self._failures) > self.capacity:
            self._failures.popitem(last=False)
        return delay

    def succeeded(self, key: Key) -> None:
        """Forget the failures of `key` after a good login."""
        self._failures.pop(key, None)


class FailureBudget:
    """At most `limit` failed logins per sliding window of `window_seconds`, all keys."""

    def __init__(
        self,
        limit: int,
        window_seconds: float = DEFAULT_BUDGET_WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self.clock = clock
        self._failures: deque[float] = deque()

    def _forget_old(self, now: float) -> None:
        while self._failures and self._failures[0] <= now - self.window_seconds:
            self._failures.popleft()

    def wait_seconds(self) -> float:
        """0 while failures may still happen; else how long until the oldest leaves."""
        now = self.clock()
        self._forget_old(now)
        if len(self._failures) < self.limit:
            return 0.0
        return self._failures[0] + self.window_seconds - now

    def failed(self) -> None:
        """Count one failure now."""
        now = self.clock()
        self._forget_old(now)
        self._failures.append(now)


@dataclass(frozen=True)
class Refused:
    """A login not checked at all: why, and when to come back (the Retry-After)."""

    reason: str
    retry_after: int


def login_keys(username: str, address: str) -> tuple[Key, Key]:
    """The lockout keys of a login: its account and its client address."""
    return ("account", username.casefold()), ("address", address)


class LoginGuard:
    """Admits password checks: bounded in number, in rate, and per account and address."""

    def __init__(
        self,
        *,
        concurrency: int,
        failure_budget: int,
        wait_seconds: float = DEFAULT_WAIT_SECONDS,
        throttle: LoginThrottle | None = None,
        budget: FailureBudget | None = None,
    ) -> None:
        self.throttle = throttle or LoginThrottle()
        self.budget = budget or FailureBudget(failure_budget)
        self.wait_seconds = wait_seconds
        self._checks = asyncio.Semaphore(concurrency)
        self._pool = ThreadPoolExecutor(
            max_workers=concurrency,
            thread_name_prefix="password-check",
            initializer=_lower_priority,
        )
        self._in_flight: set[Key] = set()

    def _refusal(self, keys: Sequence[Key]) -> Refused | None:
        if any(key in self._in_flight for key in keys):
            return Refused(
                "Another login for this account or address is being checked. Try again.",
                math.ceil(IN_FLIGHT_RETRY_SECONDS),
            )
        wait = max([self.budget.wait_seconds(), *(self.throttle.wait_seconds(k) for k in keys)])
        if wait > 0:
            seconds = math.ceil(wait)
            return Refused(f"Too many failed logins. Try again in {seconds} s.", seconds)
        return None

    async def check(self, keys: Sequence[Key], verify: Callable[[], bool]) -> bool | Refused:
        """Run `verify` (a blocking password check) in a thread if the login may try now.

        Returns its result, recorded against `keys` and the budget, or Refused without
        running it. Nothing awaits between looking at a key and marking it in flight, so
        of concurrent tries for one key only the first is checked.
        """
        refusal = self._refusal(keys)
        if refusal is not None:
            return refusal
        self._in_flight.update(keys)
        try:
            try:
                await asyncio.wait_for(self._checks.acquire(), self.wait_seconds)
            except TimeoutError:
                return Refused(
                    "Too many logins at once. Try again in a moment.",
                    math.ceil(self.wait_seconds),
                )
            try:
                ok = await asyncio.get_running_loop().run_in_executor(self._pool, verify)
            finally:
                self._checks.release()
        finally:
            self._in_flight.difference_update(keys)
        for key in keys:
            if ok:
                self.throttle.succeeded(key)
            else:
                self.throttle.failed(key)
        if not ok:
            self.budget.failed()
        return ok

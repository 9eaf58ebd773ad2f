"""The login guard: bounded concurrent password checks, lockouts per account and address
that concurrent tries cannot slip past, and a global budget of failures."""

from __future__ import annotations

import asyncio
import threading

from app.admin.login_guard import FailureBudget, LoginGuard, LoginThrottle, Refused, login_keys


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _guard(clock: _Clock, *, concurrency: int = 2, budget: int = 100) -> LoginGuard:
    return LoginGuard(
        concurrency=concurrency,
        failure_budget=budget,
        wait_seconds=0.2,
        throttle=LoginThrottle(clock=clock),
        budget=FailureBudget(budget, window_seconds=600, clock=clock),
    )


def _slow_check(release: threading.Event, result: bool = False) -> bool:
    release.wait(5)
    return result


async def test_concurrent_tries_on_one_account_run_one_check() -> None:
    guard = _guard(_Clock())
    release = threading.Event()
    checks = 0

    def verify() -> bool:
        nonlocal checks
        checks += 1
        return _slow_check(release)

    tries = [
        asyncio.create_task(guard.check(login_keys("admin", f"203.0.113.{n}"), verify))
        for n in range(30)
    ]
    await asyncio.sleep(0.05)
    release.set()
    outcomes = await asyncio.gather(*tries)

    assert checks == 1
    assert outcomes.count(False) == 1
    assert all(isinstance(o, Refused) for o in outcomes if o is not False)


async def test_at_most_the_configured_number_of_checks_run_at_once() -> None:
    guard = _guard(_Clock(), concurrency=2)
    release = threading.Event()
    running = 0
    most = 0
    lock = threading.Lock()

    def verify() -> bool:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        _slow_check(release)
        with lock:
            running -= 1
        return False

    tries = [
        asyncio.create_task(guard.check(login_keys(f"user{n}", f"198.51.100.{n}"), verify))
        for n in range(10)
    ]
    # Longer than the guard's wait: the logins that found no free slot give up.
    await asyncio.sleep(0.4)
    release.set()
    outcomes = await asyncio.gather(*tries)

    assert most == 2
    busy = [o for o in outcomes if isinstance(o, Refused)]
    assert len(busy) == 8
    assert all("Too many logins at once" in o.reason for o in busy)


async def test_a_failure_locks_out_the_account_from_any_address() -> None:
    guard = _guard(_Clock())
    assert await guard.check(login_keys("admin", "203.0.113.1"), lambda: False) is False

    refused = await guard.check(login_keys("Admin", "203.0.113.2"), lambda: True)

    assert isinstance(refused, Refused)
    assert refused.retry_after == 1


async def test_the_global_budget_refuses_every_login_once_spent() -> None:
    clock = _Clock()
    guard = _guard(clock, budget=3)
    for n in range(3):
        assert await guard.check(login_keys(f"user{n}", f"192.0.2.{n}"), lambda: False) is False

    refused = await guard.check(login_keys("admin", "203.0.113.9"), lambda: True)
    assert isinstance(refused, Refused)
    assert refused.retry_after == 600

    clock.now += 600
    assert await guard.check(login_keys("admin", "203.0.113.9"), lambda: True) is True


async def test_a_good_login_clears_its_lockouts() -> None:
    clock = _Clock()
    guard = _guard(clock)
    keys = login_keys("admin", "203.0.113.1")
    assert await guard.check(keys, lambda: False) is False
    clock.now += 1
    assert await guard.check(keys, lambda: True) is True
    assert await guard.check(keys, lambda: False) is False

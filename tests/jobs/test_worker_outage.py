"""The worker during a database outage: one log line for the outage, and longer waits."""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.jobs.worker import OUTAGE_BACKOFF_MAX_SECONDS, Worker
from app.runtime import Runtime
from tests.conftest import make_settings
from tests.support.databases import unreachable_url

CLAIMS = 8


class CeilingRandom(random.Random):
    """Jitter that always picks the ceiling, so each wait is known."""

    def uniform(self, a: float, b: float) -> float:
        return b


@pytest.fixture
async def runtime(backend: str, tmp_path: Path) -> AsyncIterator[Runtime]:
    """A runtime whose database cannot be reached."""
    settings = make_settings(unreachable_url(backend, tmp_path), tmp_path, worker_poll_seconds=1)
    created = Runtime.create(settings)
    yield created
    await created.close()


async def fail_claims(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> list[float | None]:
    """Run one claiming loop of a worker through CLAIMS failed claims; the waits between
    them: seconds of an outage's backoff, or None for the usual idle poll."""
    worker = Worker(runtime, concurrency=1, rng=CeilingRandom())
    waited: list[float | None] = []

    async def wait(seconds: float | None = None) -> None:
        waited.append(seconds)
        if len(waited) == CLAIMS:
            worker._stopping.set()

    monkeypatch.setattr(worker, "_idle", wait)
    await worker._slot()
    return waited


async def test_a_worker_logs_the_outage_once_and_no_traceback(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    assert len(await fail_claims(runtime, monkeypatch)) == CLAIMS
    [line] = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert line.startswith("database unavailable since ")
    assert all(record.exc_info is None for record in caplog.records)


async def test_a_worker_waits_longer_after_each_failed_claim_up_to_a_ceiling(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert await fail_claims(runtime, monkeypatch) == [
        1,
        2,
        4,
        8,
        16,
        *[OUTAGE_BACKOFF_MAX_SECONDS] * 3,
    ]

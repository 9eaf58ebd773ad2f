"""The collector pauses while any large delivery is handled, and resumes after the last."""

from __future__ import annotations

import gc

from app.gc_pause import gc_paused


def test_the_collector_resumes_only_after_the_last_overlapping_pause() -> None:
    assert gc.isenabled()
    first = gc_paused()
    second = gc_paused()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert not gc.isenabled()
    second.__exit__(None, None, None)
    assert gc.isenabled()


def test_the_collector_resumes_when_the_block_fails() -> None:
    try:
        with gc_paused():
            assert not gc.isenabled()
            raise RuntimeError("the delivery failed")
    except RuntimeError:
        pass
    assert gc.isenabled()

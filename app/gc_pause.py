"""Pausing the cyclic garbage collector while a large delivery is handled.

A 30,000-message delivery allocates a million short-lived objects, which set off full
collections that scan them all while holding the event loop for a tenth of a second or
more. Its rows hold no reference cycles, so reference counting frees them either way;
the collector only waits until the last large delivery in progress is done.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

_paused = 0


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection inside the block (nested or concurrent blocks count)."""
    global _paused
    if _paused == 0:
        gc.disable()
    _paused += 1
    try:
        yield
    finally:
        _paused -= 1
        if _paused == 0:
            gc.enable()

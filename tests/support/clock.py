"""A clock for tests: the Runtime reads the time from it, and it says what the test says."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

# The moment pinned tests happen at unless they say otherwise: a Wednesday, at noon UTC.
WEDNESDAY_NOON = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)


@dataclass
class FixedClock:
    """Tells `now` every time it is asked, until the test moves it."""

    now: datetime = WEDNESDAY_NOON

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> None:
        """Let `by` pass."""
        self.now += by

"""Auto-reply settings for these tests: every rule on, open Monday to Friday 9 to 18 UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from app.config import Settings
from app.jobs import kinds
from app.models import Job
from app.runtime import Runtime
from tests.conftest import make_settings

# Meta's send endpoint, mocked as in the send tests.
from tests.outbound.conftest import graph, meta  # noqa: F401
from tests.support.databases import TestDatabase
from tests.webhook.stored import jobs

GREETING = "Welcome to Acme! How can we help?"
AWAY = "We are closed now and will answer from 9:00 on the next working day."
CALL_INSTRUCTIONS = "We cannot take WhatsApp calls: please call +1 650 555 0100."

AUTO_REPLIES: dict[str, Any] = {
    "greeting_message": GREETING,
    "away_message": AWAY,
    "call_instructions_message": CALL_INSTRUCTIONS,
    "call_keywords": ["call", "phone me"],
    "business_hours_days": [0, 1, 2, 3, 4],
    "business_hours_start": "09:00",
    "business_hours_end": "18:00",
    "business_timezone": "UTC",
    "auto_reply_cooldown_seconds": 3600,
}

# A Wednesday morning (open) and a Saturday morning (closed), in UTC.
OPEN = datetime(2024, 1, 17, 10, 0, tzinfo=UTC)
CLOSED = datetime(2024, 1, 20, 10, 0, tzinfo=UTC)


@pytest.fixture
def settings(database: TestDatabase, tmp_path: Path) -> Settings:
    """The test database, with every auto-reply rule configured."""
    return make_settings(database.url, tmp_path, **AUTO_REPLIES)


async def auto_replies(runtime: Runtime) -> list[Job]:
    """The queued auto-reply jobs, oldest first."""
    return await jobs(runtime, kind=kinds.AUTO_REPLY)


async def planned(runtime: Runtime) -> list[tuple[str, str]]:
    """(rule, text) of every queued auto-reply, oldest first."""
    return [(job.payload["rule"], job.payload["text"]) for job in await auto_replies(runtime)]

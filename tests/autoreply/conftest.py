"""Auto-reply settings for these tests: every rule on, open Monday to Friday 9 to 18 UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from app.autoreply.service import plan_replies
from app.config import Settings
from app.jobs import kinds
from app.models import Job
from app.runtime import Runtime
from app.webhook.schemas import CallsValue
from app.webhook.service import IngestResult, NewInboundMessage
from tests.conftest import make_settings

# Meta's send endpoint, mocked as in the send tests.
from tests.outbound.conftest import graph, meta  # noqa: F401
from tests.support.databases import TestDatabase
from tests.support.payloads import call_event, calls_value, new_wamid
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


# Planning straight from what a delivery stored, at a `now` the test chooses: the webhook
# route reads the real clock, so answers that depend on the time are tested this way.


def message_stored(
    conversation_id: int,
    text: str | None,
    *,
    at: datetime,
    first: bool = False,
    message_type: str = "text",
) -> IngestResult:
    """A delivery that stored one new inbound message, written at `at`."""
    message = NewInboundMessage(
        wamid=new_wamid(),
        conversation_id=conversation_id,
        message_type=message_type,
        text_body=text,
        timestamp=at,
        first_in_conversation=first,
    )
    return IngestResult(event_id=1, messages=[message], new_statuses=0, calls=[])


def call_received(phone_number: str, *, at: datetime) -> IngestResult:
    """A delivery of a customer's call from `phone_number`, made at `at`."""
    value = CallsValue.model_validate(calls_value(call_event(from_=phone_number, timestamp=at)))
    return IngestResult(event_id=1, messages=[], new_statuses=0, calls=[value])


async def plan(
    runtime: Runtime, settings: Settings, result: IngestResult, *, now: datetime
) -> list[str]:
    """Plan the delivery's replies at `now`, committed; the rules of the jobs planned."""
    async with runtime.sessions.begin() as session:
        jobs = await plan_replies(session, settings, result, now=now)
        planned_rules = [job.payload["rule"] for job in jobs]
    return planned_rules

"""Auto-replies planned on a Sunday night and on a Wednesday noon give the same answers,
except where the business hours decide (the away message).

The time is a parameter: each case is planned at a fixed `now` and written at that moment,
with the default business hours (Monday to Friday, 09:00 to 18:00, UTC).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.autoreply import rules
from app.config import Settings
from app.runtime import Runtime
from app.webhook.service import IngestResult
from tests.autoreply.conftest import (
    AWAY,
    CALL_INSTRUCTIONS,
    GREETING,
    call_received,
    message_stored,
    plan,
)
from tests.conftest import make_settings
from tests.outbound.conftest import customer_wrote, hours
from tests.support.clock import FixedClock
from tests.support.databases import TestDatabase

SUNDAY_3AM = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)
WEDNESDAY_NOON = datetime(2026, 12, 9, 12, 0, tzinfo=UTC)

# What a customer does, one customer per case (so cooldowns never mix): a message's text
# and whether it is the first of its conversation, or a call, or a reaction.
MESSAGES = {
    "writes first": ("Hi", True),
    "writes again": ("Hello?", False),
    "asks for a call in a first message": ("Can I call you?", True),
    "asks for a call later": ("Please call", False),
    "writes first, with no away message set": ("Hi", True),
}
CALLS = "calls"
REACTS = "reacts"
WITHOUT_AWAY = "writes first, with no away message set"
CASES = (*MESSAGES, CALLS, REACTS)

Answers = dict[str, list[str]]


def _auto_replies(database: TestDatabase, tmp_path: Path, **overrides: str) -> Settings:
    """Every reply on, with the default business hours."""
    replies: dict[str, object] = {
        "greeting_message": GREETING,
        "away_message": AWAY,
        "call_instructions_message": CALL_INSTRUCTIONS,
        "call_keywords": ["call"],
    }
    return make_settings(database.url, tmp_path, **{**replies, **overrides})


def _delivery(case: str, conversation_id: int, number: str, at: datetime) -> IngestResult:
    """What the customer of `case` does at `at`, as the webhook stored it."""
    if case == CALLS:
        return call_received(number, at=at)
    if case == REACTS:
        return message_stored(conversation_id, None, at=at, message_type="reaction")
    text, first = MESSAGES[case]
    return message_stored(conversation_id, text, at=at, first=first)


async def _answers_at(
    moment: datetime, runtime: Runtime, clock: FixedClock, database: TestDatabase, tmp_path: Path
) -> Answers:
    """The rules planned for each case, acted out at `moment`."""
    clock.now = moment
    settings = _auto_replies(database, tmp_path)
    without_away = _auto_replies(database, tmp_path, away_message="")
    answers: Answers = {}
    for n, case in enumerate(CASES):
        # A number per moment and case: the two moments never share a conversation.
        number = f"4477009{moment.day:02d}{n:03d}"
        conversation_id = await customer_wrote(runtime, hours(1), phone_number=number)
        delivery = _delivery(case, conversation_id, number, moment)
        chosen = without_away if case == WITHOUT_AWAY else settings
        answers[case] = await plan(runtime, chosen, delivery, now=moment)
    return answers


@pytest.fixture
async def sunday_and_wednesday(
    runtime: Runtime, clock: FixedClock, database: TestDatabase, tmp_path: Path
) -> tuple[Answers, Answers]:
    """Every case's answers at Sunday 03:00, then at Wednesday 12:00."""
    sunday = await _answers_at(SUNDAY_3AM, runtime, clock, database, tmp_path)
    wednesday = await _answers_at(WEDNESDAY_NOON, runtime, clock, database, tmp_path)
    return sunday, wednesday


async def test_where_hours_do_not_matter_sunday_night_and_wednesday_noon_answer_alike(
    sunday_and_wednesday: tuple[Answers, Answers],
) -> None:
    sunday, wednesday = sunday_and_wednesday
    expected = {
        "asks for a call in a first message": [rules.CALL_INSTRUCTIONS],
        "asks for a call later": [rules.CALL_INSTRUCTIONS],
        CALLS: [rules.CALL_INSTRUCTIONS],
        REACTS: [],
        WITHOUT_AWAY: [rules.GREETING],
    }

    assert {case: sunday[case] for case in expected} == expected
    assert {case: wednesday[case] for case in expected} == expected


async def test_away_message_answers_on_sunday_night_and_not_on_wednesday_noon(
    sunday_and_wednesday: tuple[Answers, Answers],
) -> None:
    sunday, wednesday = sunday_and_wednesday

    assert (sunday["writes first"], wednesday["writes first"]) == (
        [rules.AWAY],
        [rules.GREETING],
    )
    assert (sunday["writes again"], wednesday["writes again"]) == ([rules.AWAY], [])

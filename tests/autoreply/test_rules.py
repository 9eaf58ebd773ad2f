"""The rules on their own: business hours (days, edges, time zones, night shifts) and keywords."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from app.autoreply import rules
from app.autoreply.rules import (
    BusinessHours,
    InvalidBusinessHours,
    asks_to_call,
    message_rules,
    most_specific,
)
from app.config import Settings
from tests.autoreply.conftest import AUTO_REPLIES, CLOSED, OPEN
from tests.conftest import make_settings

WEEKDAYS = frozenset({0, 1, 2, 3, 4})


def _settings(tmp_path: Path, **overrides: Any) -> Settings:
    return make_settings("sqlite+aiosqlite:///:memory:", tmp_path, **{**AUTO_REPLIES, **overrides})


def _hours(
    start: str, end: str, zone: str = "UTC", days: frozenset[int] = WEEKDAYS
) -> BusinessHours:
    def seconds(value: str) -> int:
        h, m = value.split(":")
        return int(h) * 3600 + int(m) * 60

    return BusinessHours(days=days, start=seconds(start), end=seconds(end), zone=ZoneInfo(zone))


def _utc(day: int, hour: int, minute: int = 0, second: int = 0, month: int = 1) -> datetime:
    """A moment in 2024; January 15 is a Monday."""
    return datetime(2024, month, day, hour, minute, second, tzinfo=UTC)


def test_open_from_the_opening_minute() -> None:
    hours = _hours("09:00", "18:00")
    assert not hours.is_open(_utc(17, 8, 59, 59))
    assert hours.is_open(_utc(17, 9, 0, 0))


def test_closed_from_the_closing_minute() -> None:
    hours = _hours("09:00", "18:00")
    assert hours.is_open(_utc(17, 17, 59, 59))
    assert not hours.is_open(_utc(17, 18, 0, 0))


def test_closed_all_day_on_a_day_not_listed() -> None:
    hours = _hours("09:00", "18:00")
    assert not hours.is_open(_utc(20, 12))  # Saturday
    assert hours.is_open(_utc(19, 12))  # Friday


def test_hours_are_read_in_the_business_time_zone() -> None:
    moment = _utc(17, 4, 0)  # 09:30 in India
    assert _hours("09:00", "18:00", "Asia/Kolkata").is_open(moment)
    assert not _hours("09:00", "18:00", "UTC").is_open(moment)


def test_weekday_is_the_local_one() -> None:
    friday_night_utc = _utc(19, 23, 30)  # already Saturday 08:30 in Tokyo
    assert not _hours("08:00", "18:00", "Asia/Tokyo").is_open(friday_night_utc)
    monday_early_utc = _utc(14, 23, 30)  # Sunday in UTC, Monday 08:30 in Tokyo
    assert _hours("08:00", "18:00", "Asia/Tokyo").is_open(monday_early_utc)


def test_daylight_saving_time_moves_the_hours_in_utc() -> None:
    new_york = _hours("09:00", "17:00", "America/New_York")
    assert new_york.is_open(_utc(17, 13, 30, month=7))  # 09:30 EDT
    assert not new_york.is_open(_utc(17, 13, 30, month=1))  # 08:30 EST


def test_night_shift_belongs_to_the_day_it_starts_on() -> None:
    nights = _hours("22:00", "06:00")  # Monday night to Friday night
    assert nights.is_open(_utc(16, 23))  # Tuesday 23:00
    assert nights.is_open(_utc(20, 3))  # Saturday 03:00, Friday's shift
    assert not nights.is_open(_utc(21, 3))  # Sunday 03:00
    assert not nights.is_open(_utc(15, 3))  # Monday 03:00, Sunday had no shift
    assert not nights.is_open(_utc(16, 12))  # Tuesday noon


def test_settings_give_the_hours_and_24_00_is_the_end_of_the_day(tmp_path: Path) -> None:
    hours = BusinessHours.from_settings(
        _settings(tmp_path, business_hours_start="00:00", business_hours_end="24:00")
    )
    assert hours.is_open(_utc(17, 23, 59, 59))
    assert hours.is_open(_utc(17, 0, 0, 0))


@pytest.mark.parametrize(
    ("overrides", "names"),
    [
        ({"business_hours_start": "9am"}, "business_hours_start"),
        ({"business_hours_end": "25:00"}, "business_hours_end"),
        ({"business_hours_end": "18:60"}, "business_hours_end"),
        ({"business_timezone": "Mars/Olympus_Mons"}, "business_timezone"),
    ],
)
def test_unusable_business_hours_settings_are_named(
    tmp_path: Path, overrides: dict[str, str], names: str
) -> None:
    with pytest.raises(InvalidBusinessHours, match=names):
        BusinessHours.from_settings(_settings(tmp_path, **overrides))


@pytest.mark.parametrize(
    ("text", "matches"),
    [
        ("Can I CALL you?", True),
        ("call", True),
        ("Could you phone me tomorrow", True),
        ("I will recall the order", False),
        ("calling", False),
        ("phone", False),
        (None, False),
    ],
)
def test_call_keywords_match_whole_words_in_any_case(text: str | None, matches: bool) -> None:
    assert asks_to_call(text, ["call", "phone me"]) is matches


def test_no_keywords_match_nothing() -> None:
    assert not asks_to_call("call me", [])
    assert not asks_to_call("call me", ["  "])


def test_first_message_in_business_hours_triggers_only_the_greeting(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    hours = BusinessHours.from_settings(settings)

    first = message_rules(
        settings,
        message_type="text",
        text_body="Hi",
        timestamp=OPEN,
        first_in_conversation=True,
        hours=hours,
    )

    assert first == [rules.GREETING]


def test_one_message_can_trigger_every_rule(tmp_path: Path) -> None:
    settings = _settings(tmp_path)

    triggered = message_rules(
        settings,
        message_type="text",
        text_body="Please call me",
        timestamp=CLOSED,
        first_in_conversation=True,
        hours=BusinessHours.from_settings(settings),
    )

    assert triggered == [rules.GREETING, rules.AWAY, rules.CALL_INSTRUCTIONS]


def test_reaction_triggers_nothing(tmp_path: Path) -> None:
    settings = _settings(tmp_path)

    triggered = message_rules(
        settings,
        message_type="reaction",
        text_body=None,
        timestamp=CLOSED,
        first_in_conversation=True,
        hours=BusinessHours.from_settings(settings),
    )

    assert triggered == []


def test_rules_without_a_message_configured_are_off(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path, greeting_message="", away_message=" ", call_instructions_message=""
    )

    triggered = message_rules(
        settings,
        message_type="text",
        text_body="call",
        timestamp=CLOSED,
        first_in_conversation=True,
        hours=BusinessHours.from_settings(settings),
    )

    assert triggered == []


def test_keywords_are_looked_for_only_in_texts(tmp_path: Path) -> None:
    settings = _settings(tmp_path)

    triggered = message_rules(
        settings,
        message_type="image",
        text_body="call",
        timestamp=OPEN,
        first_in_conversation=False,
        hours=BusinessHours.from_settings(settings),
    )

    assert triggered == []


@pytest.mark.parametrize(
    ("triggered", "answers"),
    [
        ([rules.GREETING, rules.AWAY, rules.CALL_INSTRUCTIONS], rules.CALL_INSTRUCTIONS),
        ([rules.GREETING, rules.CALL_INSTRUCTIONS], rules.CALL_INSTRUCTIONS),
        ([rules.AWAY, rules.CALL_INSTRUCTIONS], rules.CALL_INSTRUCTIONS),
        ([rules.GREETING, rules.AWAY], rules.AWAY),
        ([rules.GREETING], rules.GREETING),
        ([], None),
    ],
)
def test_the_most_specific_triggered_rule_answers(
    triggered: list[str], answers: str | None
) -> None:
    assert most_specific(triggered) == answers

"""When an automatic reply is due: pure decisions on a message or a call and the settings."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from app.config import Settings

GREETING = "greeting"
AWAY = "away"
CALL_INSTRUCTIONS = "call_instructions"
# The order replies planned together are queued in: hello first, then the rest.
RULE_ORDER = (GREETING, AWAY, CALL_INSTRUCTIONS)
# One message gets one automatic reply, the most specific of the rules it triggers: a
# customer who asks for a call needs the instructions whatever the hour, and one who
# writes at night learns more from the away message than from a greeting.
MOST_SPECIFIC_FIRST = (CALL_INSTRUCTIONS, AWAY, GREETING)

# Message types that are not the customer writing (a reaction, a number change notice):
# they never trigger a reply.
SILENT_TYPES = frozenset({"reaction", "system"})

# A business-initiated call is ours; only a customer's call asks for instructions.
BUSINESS_INITIATED = "BUSINESS_INITIATED"

_SECONDS_PER_DAY = 24 * 3600


class InvalidBusinessHours(ValueError):
    """The business-hours settings cannot be understood; the message says which one."""


def _seconds_of_day(value: str, name: str) -> int:
    """ "09:30" → seconds after midnight; "24:00" is the end of the day."""
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", value.strip())
    if match is None:
        raise InvalidBusinessHours(f"{name}={value!r}: use HH:MM, e.g. 09:00")
    hours, minutes = int(match[1]), int(match[2])
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        raise InvalidBusinessHours(f"{name}={value!r} is not a time of day")
    return hours * 3600 + minutes * 60


@dataclass(frozen=True)
class BusinessHours:
    """Opening hours on some weekdays (0 = Monday) in one time zone.

    An end earlier than the start (22:00 to 06:00) is a night shift: it belongs to the day
    it starts on. An end equal to the start is open around the clock from that time.
    """

    days: frozenset[int]
    start: int
    end: int
    zone: ZoneInfo

    @classmethod
    def from_settings(cls, settings: Settings) -> BusinessHours:
        """The hours the settings describe; InvalidBusinessHours if they make no sense."""
        try:
            zone = ZoneInfo(settings.business_timezone)
        except (ValueError, KeyError) as exc:
            raise InvalidBusinessHours(
                f"business_timezone={settings.business_timezone!r} is not an IANA time zone"
            ) from exc
        return cls(
            days=frozenset(settings.business_hours_days),
            start=_seconds_of_day(settings.business_hours_start, "business_hours_start"),
            end=_seconds_of_day(settings.business_hours_end, "business_hours_end"),
            zone=zone,
        )

    def is_open(self, moment: datetime) -> bool:
        """Whether the business is open at `moment` (timezone-aware)."""
        local = moment.astimezone(self.zone)
        second = local.hour * 3600 + local.minute * 60 + local.second
        weekday = local.weekday()
        if self.start < self.end:
            return weekday in self.days and self.start <= second < self.end
        opened_today = weekday in self.days and second >= self.start
        still_open_from_yesterday = (weekday - 1) % 7 in self.days and second < self.end
        return opened_today or still_open_from_yesterday


def keyword_pattern(keywords: Sequence[str]) -> re.Pattern[str] | None:
    """A case-insensitive whole-word pattern for any of the keywords; None if there are none."""
    words = sorted({k.strip() for k in keywords if k.strip()}, key=len, reverse=True)
    if not words:
        return None
    alternatives = "|".join(re.escape(word) for word in words)
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


def asks_to_call(text: str | None, keywords: Sequence[str]) -> bool:
    """Whether a customer's text contains one of the call keywords as a whole word."""
    pattern = keyword_pattern(keywords)
    return bool(text and pattern and pattern.search(text))


def is_customer_call(direction: str | None) -> bool:
    """A call event that a customer started (Meta says USER_INITIATED, or nothing)."""
    return (direction or "").upper() != BUSINESS_INITIATED


def message_rules(
    settings: Settings,
    *,
    message_type: str,
    text_body: str | None,
    timestamp: datetime,
    first_in_conversation: bool,
    hours: BusinessHours | None,
) -> list[str]:
    """The rules a new inbound message triggers, in RULE_ORDER.

    `hours` is None when the business hours are not usable; the away rule is then off.
    """
    if message_type in SILENT_TYPES:
        return []
    rules: list[str] = []
    if settings.greeting_message.strip() and first_in_conversation:
        rules.append(GREETING)
    if settings.away_message.strip() and hours is not None and not hours.is_open(timestamp):
        rules.append(AWAY)
    if (
        settings.call_instructions_message.strip()
        and message_type == "text"
        and asks_to_call(text_body, settings.call_keywords)
    ):
        rules.append(CALL_INSTRUCTIONS)
    return rules


def most_specific(triggered: Sequence[str]) -> str | None:
    """The one rule that answers, of those a message triggered; None if it triggered none."""
    for rule in MOST_SPECIFIC_FIRST:
        if rule in triggered:
            return rule
    return None


def reply_text(settings: Settings, rule: str) -> str:
    """The configured text of a rule's reply."""
    texts = {
        GREETING: settings.greeting_message,
        AWAY: settings.away_message,
        CALL_INSTRUCTIONS: settings.call_instructions_message,
    }
    return texts[rule]

"""Auto-replies planned by webhook deliveries: each reply a job, written with the message."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from app.autoreply import rules
from app.autoreply.service import REPLY_SPACING, plan_replies
from app.chunks import ROWS_PER_STATEMENT
from app.config import Settings
from app.models import AutoReplyLog
from app.runtime import Runtime
from app.webhook.service import IngestResult, NewInboundMessage
from tests.autoreply.conftest import (
    AWAY,
    CALL_INSTRUCTIONS,
    CLOSED,
    GREETING,
    OPEN,
    auto_replies,
    call_received,
    message_stored,
    plan,
    planned,
)
from tests.conftest import make_settings
from tests.outbound.conftest import customer_wrote, hours
from tests.support.clock import FixedClock
from tests.support.large_bodies import messages_body
from tests.support.payloads import (
    CUSTOMER_NUMBER,
    call_event,
    calls_value,
    change,
    deliver,
    encode,
    entry,
    inbound,
    reaction_message,
    text_message,
    webhook,
)
from tests.webhook.stored import conversations


async def _ok(response: httpx.Response) -> None:
    assert response.status_code == 200, response.text


async def test_first_message_of_a_new_conversation_gets_one_greeting(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await _ok(await deliver(client, inbound(text_message("Hi", timestamp=OPEN))))

    [job] = await auto_replies(runtime)
    [conversation] = await conversations(runtime)
    assert job.payload == {
        "conversation_id": conversation.id,
        "rule": rules.GREETING,
        "text": GREETING,
    }
    assert job.state == "queued"


async def test_a_first_delivery_larger_than_one_statement_gets_one_greeting(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    # The messages of one conversation span several statements; its count after the
    # first of them must not pass for the count of a conversation that was new.
    count = ROWS_PER_STATEMENT * 2 + 1

    await _ok(await deliver(client, messages_body(count, 1)))

    assert [rule for rule, _text in await planned(runtime)].count(rules.GREETING) == 1
    [conversation] = await conversations(runtime)
    assert conversation.message_count == count


async def test_later_messages_get_no_greeting(client: httpx.AsyncClient, runtime: Runtime) -> None:
    await _ok(await deliver(client, inbound(text_message("Hi", timestamp=OPEN))))
    await _ok(await deliver(client, inbound(text_message("Are you there?", timestamp=OPEN))))

    assert await planned(runtime) == [(rules.GREETING, GREETING)]


async def test_redelivered_first_message_gets_no_second_greeting(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    body = encode(inbound(text_message("Hi", timestamp=OPEN)))

    await _ok(await deliver(client, body))
    await _ok(await deliver(client, body))

    assert await planned(runtime) == [(rules.GREETING, GREETING)]


async def test_concurrent_redeliveries_of_a_first_message_plan_one_greeting(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    body = encode(inbound(text_message("Hi", timestamp=OPEN)))

    responses = await asyncio.gather(*(deliver(client, body) for _ in range(5)))

    assert [r.status_code for r in responses] == [200] * 5
    assert await planned(runtime) == [(rules.GREETING, GREETING)]


async def test_message_outside_business_hours_gets_the_away_message(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await _ok(await deliver(client, inbound(text_message("Hi", timestamp=OPEN))))
    await _ok(await deliver(client, inbound(text_message("Hello?", timestamp=CLOSED))))

    assert await planned(runtime) == [(rules.GREETING, GREETING), (rules.AWAY, AWAY)]


async def test_first_message_outside_hours_gets_only_the_away_message(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await _ok(await deliver(client, inbound(text_message("Hi", timestamp=CLOSED))))

    assert await planned(runtime) == [(rules.AWAY, AWAY)]


async def test_first_message_outside_hours_asking_for_a_call_gets_only_the_call_instructions(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await _ok(await deliver(client, inbound(text_message("Can I call you?", timestamp=CLOSED))))

    assert await planned(runtime) == [(rules.CALL_INSTRUCTIONS, CALL_INSTRUCTIONS)]


async def test_first_message_inside_hours_asking_for_a_call_gets_only_the_call_instructions(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await _ok(await deliver(client, inbound(text_message("Can I call you?", timestamp=OPEN))))

    assert await planned(runtime) == [(rules.CALL_INSTRUCTIONS, CALL_INSTRUCTIONS)]


async def test_later_message_outside_hours_asking_for_a_call_gets_only_the_call_instructions(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await _ok(await deliver(client, inbound(text_message("Hi", timestamp=OPEN))))

    await _ok(await deliver(client, inbound(text_message("Please call me", timestamp=CLOSED))))

    assert await planned(runtime) == [
        (rules.GREETING, GREETING),
        (rules.CALL_INSTRUCTIONS, CALL_INSTRUCTIONS),
    ]


async def test_each_message_of_one_delivery_gets_its_own_reply_in_order(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    first = text_message("Hi", timestamp=CLOSED)
    second = text_message("Can I call you?", timestamp=CLOSED)

    await _ok(await deliver(client, inbound(first, second)))

    assert await planned(runtime) == [
        (rules.AWAY, AWAY),
        (rules.CALL_INSTRUCTIONS, CALL_INSTRUCTIONS),
    ]
    away, call_instructions = await auto_replies(runtime)
    assert call_instructions.run_after - away.run_after == REPLY_SPACING


async def test_away_message_waits_out_its_cooldown(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await _ok(await deliver(client, inbound(text_message("Hi", timestamp=CLOSED))))
    await _ok(await deliver(client, inbound(text_message("Anyone?", timestamp=CLOSED))))

    assert [rule for rule, _ in await planned(runtime)] == [rules.AWAY]


async def test_chosen_rule_in_its_cooldown_sends_nothing_instead_of_a_less_specific_reply(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await _ok(await deliver(client, inbound(text_message("Call me", timestamp=CLOSED))))

    await _ok(await deliver(client, inbound(text_message("Please call me", timestamp=CLOSED))))

    assert [rule for rule, _ in await planned(runtime)] == [rules.CALL_INSTRUCTIONS]
    async with runtime.sessions() as session:
        claimed = await session.scalars(select(AutoReplyLog.rule))
        assert list(claimed) == [rules.CALL_INSTRUCTIONS]


async def test_rule_answers_again_once_its_cooldown_is_over(
    runtime: Runtime, settings: Settings, clock: FixedClock
) -> None:
    conversation_id = await customer_wrote(runtime, hours(1))
    asks = message_stored(conversation_id, "Can I call you?", at=clock.now)
    asks_again = message_stored(conversation_id, "Please call me", at=clock.now)

    first = await plan(runtime, settings, asks, now=clock.now)
    within = await plan(runtime, settings, asks_again, now=clock.now + timedelta(seconds=3599))
    after = await plan(runtime, settings, asks_again, now=clock.now + timedelta(seconds=3601))

    assert (first, within, after) == (
        [rules.CALL_INSTRUCTIONS],
        [],
        [rules.CALL_INSTRUCTIONS],
    )


async def test_reply_is_due_at_the_time_it_was_planned(
    runtime: Runtime, settings: Settings, clock: FixedClock
) -> None:
    conversation_id = await customer_wrote(runtime, hours(1))
    hello = message_stored(conversation_id, "Hi", at=OPEN, first=True)

    await plan(runtime, settings, hello, now=clock.now)

    [job] = await auto_replies(runtime)
    assert job.run_after == clock.now


async def test_message_asking_for_a_call_gets_the_call_instructions(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await _ok(await deliver(client, inbound(text_message("Hi", timestamp=OPEN))))
    await _ok(await deliver(client, inbound(text_message("Can I CALL you?", timestamp=OPEN))))
    await _ok(await deliver(client, inbound(text_message("I recall the order", timestamp=OPEN))))

    assert await planned(runtime) == [
        (rules.GREETING, GREETING),
        (rules.CALL_INSTRUCTIONS, CALL_INSTRUCTIONS),
    ]


async def test_reaction_gets_no_reply_even_when_closed(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await _ok(await deliver(client, inbound(text_message("Hi", timestamp=OPEN))))
    reaction = reaction_message("wamid.HBgMOTE5ODc2NTQzMjEwFQIAERgSOUT", timestamp=CLOSED)

    await _ok(await deliver(client, inbound(reaction)))

    assert await planned(runtime) == [(rules.GREETING, GREETING)]


def _calls(*events: dict[str, object]) -> bytes:
    return encode(webhook(entry(change(calls_value(*events), field="calls"))))


async def test_call_from_a_customer_who_wrote_today_gets_the_call_instructions(
    runtime: Runtime, settings: Settings, clock: FixedClock
) -> None:
    await customer_wrote(runtime, hours(3), phone_number=CUSTOMER_NUMBER)

    planned_rules = await plan(
        runtime, settings, call_received(CUSTOMER_NUMBER, at=clock.now), now=clock.now
    )

    assert planned_rules == [rules.CALL_INSTRUCTIONS]


async def test_connect_and_terminate_of_one_call_get_one_answer(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await _ok(await deliver(client, _calls(call_event(event="connect"))))
    await _ok(await deliver(client, _calls(call_event(event="terminate"))))

    assert [rule for rule, _ in await planned(runtime)] == [rules.CALL_INSTRUCTIONS]


async def test_call_from_someone_who_never_wrote_gets_the_call_instructions(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    # A call opens the customer-service window, as a message does.
    await _ok(await deliver(client, _calls(call_event(from_="447700900123"))))

    assert await planned(runtime) == [(rules.CALL_INSTRUCTIONS, CALL_INSTRUCTIONS)]


async def test_call_delivered_after_its_window_closed_is_skipped_with_the_reason_logged(
    client: httpx.AsyncClient, runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="app.autoreply.service"):
        await _ok(await deliver(client, _calls(call_event(from_="447700900123", timestamp=OPEN))))

    assert await planned(runtime) == []
    assert "only a template could reach them" in caplog.text


async def test_nothing_is_planned_when_no_reply_is_configured(
    runtime: Runtime, tmp_path: Path
) -> None:
    settings = make_settings("sqlite+aiosqlite:///:memory:", tmp_path)
    result = IngestResult(
        event_id=1,
        messages=[
            NewInboundMessage(
                wamid="wamid.A",
                conversation_id=1,
                message_type="text",
                text_body="call me",
                timestamp=CLOSED,
                first_in_conversation=True,
            )
        ],
        new_statuses=0,
        calls=[],
    )
    async with runtime.sessions.begin() as session:
        assert await plan_replies(session, settings, result, now=CLOSED) == []


async def test_unusable_business_hours_turn_the_away_message_off_without_failing_the_webhook(
    runtime: Runtime, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(
        "sqlite+aiosqlite:///:memory:",
        tmp_path,
        away_message="Closed",
        business_timezone="Nowhere/Atlantis",
    )
    result = IngestResult(
        event_id=1,
        messages=[
            NewInboundMessage(
                wamid="wamid.A",
                conversation_id=None,
                message_type="text",
                text_body="hi",
                timestamp=CLOSED,
                first_in_conversation=False,
            )
        ],
        new_statuses=0,
        calls=[],
    )
    with caplog.at_level(logging.ERROR, logger="app.autoreply.service"):
        async with runtime.sessions.begin() as session:
            assert await plan_replies(session, settings, result, now=CLOSED) == []

    assert "business_timezone" in caplog.text

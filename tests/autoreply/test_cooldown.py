"""The cooldown claim: one atomic upsert, so concurrent deliveries plan a reply at most once."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from app.autoreply.repository import AutoReplyRepository
from app.runtime import Runtime
from tests.outbound.conftest import customer_wrote, hours
from tests.support.clock import WEDNESDAY_NOON

COOLDOWN = timedelta(hours=1)


async def _claim(runtime: Runtime, conversation_id: int, rule: str, now_offset: timedelta) -> bool:
    async with runtime.sessions.begin() as session:
        return await AutoReplyRepository(session).claim_cooldown(
            conversation_id, rule, now=WEDNESDAY_NOON + now_offset, cooldown=COOLDOWN
        )


async def test_concurrent_claims_of_one_rule_and_conversation_let_exactly_one_through(
    runtime: Runtime,
) -> None:
    conversation_id = await customer_wrote(runtime, hours(1))

    results = await asyncio.gather(
        *(_claim(runtime, conversation_id, "greeting", timedelta(0)) for _ in range(8))
    )

    assert sorted(results) == [False] * 7 + [True]


async def test_claim_within_the_cooldown_is_refused_and_after_it_allowed(
    runtime: Runtime,
) -> None:
    conversation_id = await customer_wrote(runtime, hours(1))

    assert await _claim(runtime, conversation_id, "away", timedelta(0))
    assert not await _claim(runtime, conversation_id, "away", timedelta(minutes=59))
    assert await _claim(runtime, conversation_id, "away", timedelta(minutes=61))


async def test_each_rule_and_conversation_has_its_own_cooldown(runtime: Runtime) -> None:
    first = await customer_wrote(runtime, hours(1))
    second = await customer_wrote(runtime, hours(1), phone_number="447700900123")

    assert await _claim(runtime, first, "away", timedelta(0))
    assert await _claim(runtime, first, "greeting", timedelta(0))
    assert await _claim(runtime, second, "away", timedelta(0))

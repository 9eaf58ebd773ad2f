"""What ingest reports as newly stored, for the work that follows a delivery."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.runtime import Runtime
from app.webhook.service import IngestResult, read, store
from tests.conftest import PHONE_NUMBER_ID
from tests.support import payloads as p

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


async def run(session: AsyncSession, runtime: Runtime, payload: p.Payload) -> IngestResult:
    delivery = await read(runtime.body_reader, runtime.settings, p.encode(payload), now=T0)
    (result,) = await store(session, runtime.settings, [delivery])
    await session.commit()
    assert isinstance(result, IngestResult)
    return result


async def test_new_messages_are_reported_with_conversation_type_text_and_time(
    session: AsyncSession, runtime: Runtime
) -> None:
    text = p.text_message("hello", timestamp=T0)
    result = await run(session, runtime, p.inbound(text))
    (new,) = result.messages
    assert (new.wamid, new.message_type, new.text_body, new.timestamp) == (
        text["id"],
        "text",
        "hello",
        T0,
    )
    assert new.conversation_id is not None


async def test_first_message_of_a_new_conversation_is_marked_first(
    session: AsyncSession, runtime: Runtime
) -> None:
    first = await run(session, runtime, p.inbound(p.text_message("hi", timestamp=T0)))
    second = await run(session, runtime, p.inbound(p.text_message("again", timestamp=T0)))
    assert [m.first_in_conversation for m in first.messages] == [True]
    assert [m.first_in_conversation for m in second.messages] == [False]


async def test_only_the_earliest_of_a_new_conversations_batch_is_first(
    session: AsyncSession, runtime: Runtime
) -> None:
    later = p.text_message("later", timestamp=T0 + timedelta(seconds=30))
    earlier = p.text_message("earlier", timestamp=T0)
    result = await run(session, runtime, p.inbound(later, earlier))
    assert {m.text_body: m.first_in_conversation for m in result.messages} == {
        "later": False,
        "earlier": True,
    }


async def test_redelivery_reports_nothing_new(session: AsyncSession, runtime: Runtime) -> None:
    payload = p.inbound(p.text_message("hi"))
    await run(session, runtime, payload)
    again = await run(session, runtime, payload)
    assert (again.messages, again.new_statuses) == ([], 0)


async def test_calls_changes_are_reported_with_their_values(
    session: AsyncSession, runtime: Runtime
) -> None:
    call = p.call_event(from_="447700900001")
    result = await run(session, runtime, p.webhook(p.entry(p.change(p.calls_value(call), "calls"))))
    (value,) = result.calls
    assert [(c.id, c.from_, c.event) for c in value.calls] == [
        (call["id"], "447700900001", "connect")
    ]
    assert value.metadata is not None
    assert value.metadata.phone_number_id == PHONE_NUMBER_ID

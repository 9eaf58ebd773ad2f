"""A message Meta accepted is a message.sent event of its conversation."""

from __future__ import annotations

import respx
from sqlalchemy import select

from app.models import ChangeEvent
from app.outbound.service import send_text
from app.runtime import Runtime
from tests.outbound.conftest import customer_wrote, hours
from tests.support.clock import FixedClock


async def test_a_sent_message_is_a_message_sent_event(
    runtime: Runtime, clock: FixedClock, meta: respx.Route
) -> None:
    conversation_id = await customer_wrote(runtime, hours(1))

    message = await send_text(runtime, conversation_id, "On its way", now=clock.now)

    async with runtime.sessions() as session:
        events = (await session.scalars(select(ChangeEvent))).all()
    assert [(e.type, e.conversation_id) for e in events] == [("message.sent", conversation_id)]
    assert events[0].data["message_id"] == message.message_id
    assert events[0].data["text_body"] == "On its way"
    assert events[0].data["direction"] == "out"

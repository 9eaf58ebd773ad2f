"""send_text: the reply box of the admin panel sends through the same rules as the API."""

from __future__ import annotations

import pytest
import respx

from app.conversations.exceptions import ConversationNotFound
from app.outbound.exceptions import InvalidSendRequest, MetaRejected, OutsideCustomerServiceWindow
from app.outbound.service import send_text
from app.runtime import Runtime
from tests.outbound.conftest import (
    MESSAGES_URL,
    customer_wrote,
    hours,
    meta_error,
    outbound_messages,
    sent_payload,
)
from tests.support.clock import FixedClock


async def test_send_text_sends_and_returns_the_stored_message(
    runtime: Runtime, clock: FixedClock, meta: respx.Route
) -> None:
    conversation_id = await customer_wrote(runtime, hours(2))

    message = await send_text(runtime, conversation_id, "We are on it", now=clock.now)

    assert (message.direction, message.status, message.text_body) == (
        "out",
        "accepted",
        "We are on it",
    )
    assert message.timestamp == clock.now
    assert sent_payload(meta)["text"]["body"] == "We are on it"
    assert [m.message_id for m in await outbound_messages(runtime)] == [message.message_id]


async def test_send_text_outside_the_window_raises_and_sends_nothing(
    runtime: Runtime, clock: FixedClock, meta: respx.Route
) -> None:
    conversation_id = await customer_wrote(runtime, hours(30))

    with pytest.raises(OutsideCustomerServiceWindow):
        await send_text(runtime, conversation_id, "Hello?", now=clock.now)

    assert meta.call_count == 0


async def test_send_text_to_an_unknown_conversation_raises_not_found(
    runtime: Runtime, clock: FixedClock, meta: respx.Route
) -> None:
    with pytest.raises(ConversationNotFound):
        await send_text(runtime, 12345, "Hello?", now=clock.now)


async def test_send_text_of_a_blank_text_raises_a_validation_error(
    runtime: Runtime, clock: FixedClock, meta: respx.Route
) -> None:
    conversation_id = await customer_wrote(runtime, hours(2))

    with pytest.raises(InvalidSendRequest) as caught:
        await send_text(runtime, conversation_id, "  ", now=clock.now)

    assert "body" in caught.value.detail
    assert meta.call_count == 0


async def test_send_text_refused_by_meta_raises_metas_error(
    runtime: Runtime, clock: FixedClock, graph: respx.MockRouter
) -> None:
    conversation_id = await customer_wrote(runtime, hours(2))
    graph.post(MESSAGES_URL).mock(return_value=meta_error(400, 131047, "Re-engagement message"))

    with pytest.raises(MetaRejected) as caught:
        await send_text(runtime, conversation_id, "Hello?", now=clock.now)

    assert caught.value.status_code == 409
    assert await outbound_messages(runtime) == []

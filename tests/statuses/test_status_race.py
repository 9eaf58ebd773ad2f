"""A status and its message, stored by concurrent transactions, still meet."""

import asyncio
from datetime import UTC, datetime

from app.messages.repository import MessageRepository
from app.models import Direction, MessageStatus
from app.runtime import Runtime
from app.statuses.repository import StatusRepository


def _outbound(wamid: str) -> dict[str, object]:
    return {
        "message_id": wamid,
        "direction": Direction.OUTBOUND,
        "phone_number_id": "1",
        "to_number": "919876543210",
        "message_type": "text",
        "text_body": "hello",
        "timestamp": datetime.now(UTC),
        "status": MessageStatus.ACCEPTED,
    }


async def test_status_stored_while_its_message_is_inserted_is_applied(runtime: Runtime) -> None:
    wamid = "wamid.race1"
    now = datetime.now(UTC)
    async with runtime.sessions() as webhook:
        statuses = StatusRepository(webhook)
        await statuses.lock_messages([wamid])
        await statuses.insert_ignore([{"message_id": wamid, "status": "read", "timestamp": now}])
        await statuses.apply(wamid, "read", now)  # no message row yet: nothing to move

        async def store_sent_message() -> None:
            async with runtime.sessions() as send:
                await MessageRepository(send).insert_ignore([_outbound(wamid)])
                await StatusRepository(send).apply_stored(wamid)
                await send.commit()

        sending = asyncio.create_task(store_sent_message())
        await asyncio.sleep(0.3)  # the send's transaction is now waiting on the webhook's
        await webhook.commit()
        await sending

    async with runtime.sessions() as check:
        message = await MessageRepository(check).get_by_message_id(wamid)
    assert message is not None
    assert message.status == "read"

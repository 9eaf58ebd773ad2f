"""What the webhook left in the database, read in fresh sessions."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import select

from app.models import Conversation, Job, Message, MessageStatusUpdate, WebhookEvent
from app.runtime import Runtime

M = TypeVar("M")


async def rows(runtime: Runtime, model: type[M], **where: Any) -> list[M]:
    """Every row of `model` matching `where` (column=value), in insertion order."""
    async with runtime.sessions() as session:
        query = select(model).filter_by(**where).order_by(model.id)  # type: ignore[attr-defined]
        return list((await session.execute(query)).scalars())


async def messages(runtime: Runtime, **where: Any) -> list[Message]:
    """Stored messages."""
    return await rows(runtime, Message, **where)


async def message(runtime: Runtime, wamid: str) -> Message:
    """The one stored message with this wamid."""
    (found,) = await messages(runtime, message_id=wamid)
    return found


async def conversations(runtime: Runtime, **where: Any) -> list[Conversation]:
    """Stored conversations."""
    return await rows(runtime, Conversation, **where)


async def statuses(runtime: Runtime, **where: Any) -> list[MessageStatusUpdate]:
    """Stored status reports."""
    return await rows(runtime, MessageStatusUpdate, **where)


async def events(runtime: Runtime) -> list[WebhookEvent]:
    """The raw event log."""
    return await rows(runtime, WebhookEvent)


async def jobs(runtime: Runtime, **where: Any) -> list[Job]:
    """Queued background jobs."""
    return await rows(runtime, Job, **where)


async def nothing_stored(runtime: Runtime) -> bool:
    """True when no event, message, conversation, status or job exists."""
    for model in (WebhookEvent, Message, Conversation, MessageStatusUpdate, Job):
        if await rows(runtime, model):
            return False
    return True


async def only_events_stored(runtime: Runtime) -> bool:
    """True when the event log holds something and no other table does."""
    for model in (Message, Conversation, MessageStatusUpdate, Job):
        if await rows(runtime, model):
            return False
    return bool(await rows(runtime, WebhookEvent))

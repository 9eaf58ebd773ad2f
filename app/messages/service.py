"""What the messages API does: list and find messages, edit notes, mark messages read."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from app.changes import bodies
from app.changes.repository import ChangeRepository
from app.config import Settings
from app.conversations.exceptions import ConversationNotFound
from app.conversations.repository import ConversationRepository
from app.jobs import kinds
from app.jobs.repository import JobRepository
from app.messages.exceptions import InvalidMarkReadRequest, MessageNotFound
from app.messages.repository import MessageFilters, MessageRepository, ReadMark
from app.messages.schemas import MessageListParams, MessageOut
from app.models import Message
from app.pagination import Cursor, Page, page_start, paginate
from app.phone import InvalidPhoneNumber, is_user_id, normalize_customer

LIST_NAME = "messages"
# The columns a listed message shows, in the order of the model that documents them.
LISTED_COLUMNS = tuple(MessageOut.model_fields)


def _sort_key(message: Row[Any]) -> Cursor:
    return Cursor(at=message.timestamp, id=message.id)


def _filters(params: MessageListParams) -> MessageFilters:
    by_user_id = params.phone is not None and is_user_id(params.phone)
    return MessageFilters(
        phone_number=None if by_user_id else params.phone,
        user_id=params.phone if by_user_id else None,
        phone_number_id=params.phone_number_id,
        message_type=params.message_type,
        direction=params.direction,
        status=params.status,
        since=params.since,
        until=params.until,
        text=params.q,
        conversation_id=params.conversation,
    )


async def list_messages(session: AsyncSession, params: MessageListParams) -> Page[Row[Any]]:
    """A page of the messages matching `params` (or its cursor's filters), newest first,
    as rows of the columns the API returns, and the next page's cursor."""
    start = page_start(LIST_NAME, params)
    params = start.params
    rows = await MessageRepository(session).list_rows_newest_first(
        _filters(params), LISTED_COLUMNS, limit=params.limit + 1, after=start.after
    )
    return paginate(rows, params, LIST_NAME, _sort_key)


async def get_message(session: AsyncSession, message_id: str) -> Message:
    """The message with this wamid, or MessageNotFound."""
    message = await MessageRepository(session).get_by_message_id(message_id)
    if message is None:
        raise MessageNotFound(message_id)
    return message


async def update_notes(session: AsyncSession, message_id: str, notes: str) -> Message:
    """Replace the notes of the message with this wamid; MessageNotFound if there is none."""
    repository = MessageRepository(session)
    message = await repository.get_by_message_id(message_id)
    if message is None:
        raise MessageNotFound(message_id)
    return await repository.set_notes(message, notes)


@dataclass(frozen=True)
class MarkReadResult:
    """What a mark-read changed: messages newly read, conversations whose counter fell."""

    marked: int
    conversation_ids: list[int]


async def _conversations_to_mark(
    session: AsyncSession, conversation_id: int | None, phone_number: str | None
) -> list[int]:
    repository = ConversationRepository(session)
    if conversation_id is not None:
        if await repository.get_by_id(conversation_id) is None:
            raise ConversationNotFound.by_id(conversation_id)
        return [conversation_id]
    assert phone_number is not None
    try:
        number = normalize_customer(phone_number)
    except InvalidPhoneNumber as exc:
        raise InvalidMarkReadRequest(f"phone_number: {exc}") from None
    ids = await repository.list_ids_by_customer(number)
    if not ids:
        raise ConversationNotFound.by_phone_number(number)
    return ids


async def mark_read(
    session: AsyncSession,
    settings: Settings,
    *,
    now: datetime,
    message_ids: Sequence[str] | None = None,
    conversation_id: int | None = None,
    phone_number: str | None = None,
) -> MarkReadResult:
    """Mark inbound messages read at `now`: these wamids, a conversation's, or a number's.

    Exactly one of the three must be given. Only messages still `received` change, and
    each conversation's unread_count falls by exactly how many of its messages this call
    changed (never below zero), so repeating a call, or racing another one, changes
    nothing twice. With `send_read_receipts`, one read-receipt job per conversation is
    written in the same transaction, for its newest message marked here (Meta marks
    that message and every earlier one read).
    """
    given = [v for v in (message_ids, conversation_id, phone_number) if v is not None]
    if len(given) != 1:
        raise InvalidMarkReadRequest(
            "give exactly one of message_ids, conversation_id or phone_number"
        )
    if message_ids is not None and not message_ids:
        raise InvalidMarkReadRequest("message_ids must name at least one message")

    messages = MessageRepository(session)
    if message_ids is not None:
        marks = await messages.mark_received_as_read(read_at=now, message_ids=message_ids)
    else:
        conversation_ids = await _conversations_to_mark(session, conversation_id, phone_number)
        marks = await messages.mark_received_as_read(read_at=now, conversation_ids=conversation_ids)

    by_conversation: dict[int, list[ReadMark]] = defaultdict(list)
    for mark in marks:
        if mark.conversation_id is not None:
            by_conversation[mark.conversation_id].append(mark)

    conversations = ConversationRepository(session)
    jobs = JobRepository(session)
    # Sorted, so concurrent calls lock conversation rows in the same order.
    touched = sorted(by_conversation)
    read_changes = []
    for conversation in touched:
        marked_here = by_conversation[conversation]
        await conversations.remove_unread(conversation, len(marked_here))
        newest = max(marked_here, key=lambda m: (m.timestamp, m.id))
        read_changes.append(
            bodies.conversation_read(conversation, len(marked_here), newest.message_id, now)
        )
        if settings.send_read_receipts:
            await jobs.enqueue(
                kinds.READ_RECEIPT,
                {"message_id": newest.message_id, "phone_number_id": newest.phone_number_id},
                max_attempts=settings.job_max_attempts,
                run_after=now,
            )
    await ChangeRepository(session).add_many(read_changes, now=now)
    return MarkReadResult(marked=len(marks), conversation_ids=touched)

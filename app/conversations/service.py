"""What the conversations API does: list and find conversations, edit their notes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from app.calls.repository import CallRepository
from app.calls.schemas import CallOut
from app.config import Settings
from app.conversations.exceptions import ConversationNotFound
from app.conversations.repository import ConversationRepository
from app.conversations.schemas import (
    DETAIL_CALLS,
    ConversationDetail,
    ConversationListParams,
    ConversationOut,
)
from app.models import Conversation
from app.pagination import Cursor, Page, page_start, paginate
from app.phone import partial_number_digits

LIST_NAME = "conversations"


def _sort_key(conversation: Row[Any]) -> Cursor:
    return Cursor(at=conversation.last_message_at, id=conversation.id)


async def list_conversations(
    session: AsyncSession, params: ConversationListParams
) -> Page[Row[Any]]:
    """A page of conversations matching `params` (or its cursor's filters), latest
    activity first, as rows of every column."""
    start = page_start(LIST_NAME, params)
    params = start.params
    digits = partial_number_digits(params.q) if params.q else None
    rows = await ConversationRepository(session).list_latest_activity_first(
        limit=params.limit + 1,
        after=start.after,
        unread=params.unread,
        text=params.q,
        digits=digits,
        phone_number_id=params.phone_number_id,
    )
    return paginate(rows, params, LIST_NAME, _sort_key)


def business_fields(settings: Settings, phone_number_id: str) -> dict[str, str | None]:
    """The display number and label of a conversation's business number, as configured."""
    number = settings.number_named(phone_number_id)
    return {"business_number": number.display or None, "business_label": number.label or None}


def listed(settings: Settings, rows: Sequence[Row[Any]]) -> list[dict[str, Any]]:
    """Listed conversations as JSON objects, each with its business number's name."""
    fields = rows[0]._fields if rows else ()
    # A page's conversations share a few business numbers: each is looked up once.
    numbers = {
        phone_number_id: business_fields(settings, phone_number_id)
        for phone_number_id in {row.phone_number_id for row in rows}
    }
    return [{**dict(zip(fields, row, strict=True)), **numbers[row.phone_number_id]} for row in rows]


async def conversation_detail(
    session: AsyncSession, settings: Settings, conversation_id: int
) -> ConversationDetail:
    """The conversation with this id, its business number and its latest calls."""
    conversation = await get_conversation(session, conversation_id)
    calls = await CallRepository(session).list_rows_newest_first(
        limit=DETAIL_CALLS, conversation_id=conversation_id
    )
    return ConversationDetail.model_validate(
        {
            **ConversationOut.model_validate(conversation).model_dump(),
            **business_fields(settings, conversation.phone_number_id),
            "calls": [CallOut.model_validate(call._asdict()) for call in calls],
        }
    )


async def get_conversation(session: AsyncSession, conversation_id: int) -> Conversation:
    """The conversation with this id, or ConversationNotFound."""
    conversation = await ConversationRepository(session).get_by_id(conversation_id)
    if conversation is None:
        raise ConversationNotFound.by_id(conversation_id)
    return conversation


async def update_notes(session: AsyncSession, conversation_id: int, notes: str) -> Conversation:
    """Replace the notes of a conversation; ConversationNotFound if there is none."""
    repository = ConversationRepository(session)
    conversation = await repository.get_by_id(conversation_id)
    if conversation is None:
        raise ConversationNotFound.by_id(conversation_id)
    return await repository.set_notes(conversation, notes)

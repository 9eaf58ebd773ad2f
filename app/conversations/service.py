"""What the conversations API does: list and find conversations, edit their notes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from app.conversations.exceptions import ConversationNotFound
from app.conversations.repository import ConversationRepository
from app.conversations.schemas import ConversationListParams
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
    )
    return paginate(rows, params, LIST_NAME, _sort_key)


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

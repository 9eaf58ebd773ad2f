"""Routes of the conversations domain: list, read and annotate conversations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.conversations import service
from app.conversations.schemas import (
    ConversationDetail,
    ConversationList,
    ConversationListParams,
    ConversationNotesUpdate,
    ConversationOut,
)
from app.deps import ApiKeyDep, ReadSessionDep, SessionDep, SettingsDep
from app.errors import error_responses
from app.models import MAX_ID
from app.responses import json_response

router = APIRouter(tags=["conversations"], dependencies=[ApiKeyDep], responses=error_responses(401))

ConversationIdPath = Annotated[
    int, Path(ge=1, le=MAX_ID, description="The conversation's id.", examples=[87])
]


@router.get(
    "/conversations/",
    response_model=ConversationList,
    summary="List conversations, latest activity first",
    responses=error_responses(422),
)
async def list_conversations(
    session: ReadSessionDep,
    settings: SettingsDep,
    params: Annotated[ConversationListParams, Query()],
) -> Response:
    """Conversations ordered by their last message, newest first; those without
    messages come last.

    Pages are keyset-paginated: pass a page's `next_cursor` as `cursor` to get the next
    one; it carries this page's filters. `count` is the number of conversations in this page.
    """
    return await conversations_page(session, settings, params)


async def conversations_page(
    session: AsyncSession, settings: Settings, params: ConversationListParams
) -> Response:
    """The answer of GET /conversations/ (also given ahead of routing: app.fast_paths)."""
    page = await service.list_conversations(session, params)
    items = service.listed(settings, page.items)
    return json_response(
        {"count": len(items), "conversations": items, "next_cursor": page.next_cursor}
    )


@router.get(
    "/conversations/{conversation_id}",
    response_model=ConversationDetail,
    summary="Get one conversation",
    responses=error_responses(404, 422),
)
async def get_conversation(
    session: SessionDep, settings: SettingsDep, conversation_id: ConversationIdPath
) -> ConversationDetail:
    """The conversation with this id, with its counters, its business number and its
    latest calls."""
    return await service.conversation_detail(session, settings, conversation_id)


@router.patch(
    "/conversations/{conversation_id}",
    response_model=ConversationOut,
    summary="Edit a conversation's notes",
    responses=error_responses(404, 422),
)
async def update_conversation(
    session: SessionDep,
    settings: SettingsDep,
    conversation_id: ConversationIdPath,
    body: ConversationNotesUpdate,
) -> ConversationOut:
    """Replace the notes of the conversation with this id; no other field can be edited."""
    conversation = await service.update_notes(session, conversation_id, body.notes)
    return ConversationOut.model_validate(
        {
            **ConversationOut.model_validate(conversation).model_dump(),
            **service.business_fields(settings, conversation.phone_number_id),
        }
    )

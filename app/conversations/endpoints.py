"""Routes of the conversations domain: list, read and annotate conversations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from app.conversations import service
from app.conversations.schemas import (
    ConversationList,
    ConversationListParams,
    ConversationNotesUpdate,
    ConversationOut,
)
from app.deps import ApiKeyDep, ReadSessionDep, SessionDep
from app.errors import error_responses
from app.models import MAX_ID
from app.responses import page_response

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
    session: ReadSessionDep, params: Annotated[ConversationListParams, Query()]
) -> Response:
    """Conversations ordered by their last message, newest first; those without
    messages come last.

    Pages are keyset-paginated: pass a page's `next_cursor` as `cursor` to get the next
    one; it carries this page's filters. `count` is the number of conversations in this page.
    """
    page = await service.list_conversations(session, params)
    return page_response("conversations", page.items, page.next_cursor)


@router.get(
    "/conversations/{conversation_id}",
    response_model=ConversationOut,
    summary="Get one conversation",
    responses=error_responses(404, 422),
)
async def get_conversation(
    session: SessionDep, conversation_id: ConversationIdPath
) -> ConversationOut:
    """The conversation with this id, with its counters."""
    conversation = await service.get_conversation(session, conversation_id)
    return ConversationOut.model_validate(conversation)


@router.patch(
    "/conversations/{conversation_id}",
    response_model=ConversationOut,
    summary="Edit a conversation's notes",
    responses=error_responses(404, 422),
)
async def update_conversation(
    session: SessionDep, conversation_id: ConversationIdPath, body: ConversationNotesUpdate
) -> ConversationOut:
    """Replace the notes of the conversation with this id; no other field can be edited."""
    conversation = await service.update_notes(session, conversation_id, body.notes)
    return ConversationOut.model_validate(conversation)

"""Routes of the messages domain: list, read, annotate and mark messages read."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.deps import ApiKeyDep, NowDep, ReadSessionDep, SessionDep, SettingsDep
from app.errors import error_responses
from app.messages import service
from app.messages.schemas import (
    EXAMPLE_WAMID,
    MarkReadRequest,
    MarkReadResponse,
    MessageList,
    MessageListParams,
    MessageNotesUpdate,
    MessageOut,
)
from app.responses import page_response

router = APIRouter(tags=["messages"], dependencies=[ApiKeyDep], responses=error_responses(401))

# A wamid is base64 after `wamid.`, which may contain `/`: match the rest of the path.
MessageIdPath = Annotated[
    str, Path(description="Meta's message id (wamid).", examples=[EXAMPLE_WAMID], min_length=1)
]


@router.get(
    "/messages/",
    response_model=MessageList,
    summary="List messages, newest first",
    responses=error_responses(422),
)
async def list_messages(
    session: ReadSessionDep, settings: SettingsDep, params: Annotated[MessageListParams, Query()]
) -> Response:
    """Messages matching every filter given, newest first (by timestamp, then id).

    Pages are keyset-paginated: pass a page's `next_cursor` as `cursor` to get the next
    one; it carries this page's filters. Messages that arrive meanwhile never shift later
    pages. `count` is the number of messages in this page.
    """
    return await messages_page(session, settings, params)


async def messages_page(
    session: AsyncSession, _settings: Settings, params: MessageListParams
) -> Response:
    """The answer of GET /messages/ (also given ahead of routing: app.fast_paths)."""
    page = await service.list_messages(session, params)
    return page_response("messages", page.items, page.next_cursor)


@router.get(
    "/messages/{message_id:path}",
    response_model=MessageOut,
    summary="Get one message",
    responses=error_responses(404, 422),
)
async def get_message(session: SessionDep, message_id: MessageIdPath) -> MessageOut:
    """The message with this wamid."""
    return MessageOut.model_validate(await service.get_message(session, message_id))


@router.patch(
    "/messages/{message_id:path}",
    response_model=MessageOut,
    summary="Edit a message's notes",
    responses=error_responses(404, 422),
)
async def update_message(
    session: SessionDep, message_id: MessageIdPath, body: MessageNotesUpdate
) -> MessageOut:
    """Replace the notes of the message with this wamid; no other field can be edited."""
    message = await service.update_notes(session, message_id, body.notes)
    return MessageOut.model_validate(message)


@router.post(
    "/mark-read/",
    response_model=MarkReadResponse,
    summary="Mark inbound messages read",
    responses=error_responses(404, 422),
)
async def mark_read(
    session: SessionDep, settings: SettingsDep, now: NowDep, body: MarkReadRequest
) -> MarkReadResponse:
    """Mark unread inbound messages read, chosen by `message_ids`, `conversation_id` or
    `phone_number` (exactly one; the number written any way).

    Each conversation's `unread_count` falls by exactly the number of its messages this
    call marked, never below zero; calling again changes nothing. 404 when the
    conversation or the number is unknown.
    """
    result = await service.mark_read(
        session,
        settings,
        now=now,
        message_ids=body.message_ids,
        conversation_id=body.conversation_id,
        phone_number=body.phone_number,
    )
    return MarkReadResponse(marked=result.marked, conversations=result.conversation_ids)

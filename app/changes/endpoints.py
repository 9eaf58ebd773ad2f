"""Route of the change-event stream: pages of past events, or a live SSE feed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from starlette.responses import Response

from app.changes import service
from app.changes.exceptions import InvalidLastEventId
from app.changes.schemas import ChangeList, ChangeListParams, ChangeOut
from app.deps import ApiKeyDep, RuntimeDep
from app.errors import error_responses
from app.models import MAX_ID

router = APIRouter(
    prefix="/events", tags=["events"], dependencies=[ApiKeyDep], responses=error_responses(401)
)

EVENT_STREAM = "text/event-stream"
# Proxies (nginx) must pass each event on at once instead of buffering the response.
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def parse_last_event_id(value: str | None) -> int | None:
    """The Last-Event-ID header as an event id, or InvalidLastEventId."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if not text.isdigit() or int(text) > MAX_ID:
        raise InvalidLastEventId(text)
    return int(text)


def wants_stream(request: Request) -> bool:
    """True when the client asks for Server-Sent Events."""
    return EVENT_STREAM in request.headers.get("accept", "")


@router.get(
    "/",
    response_model=ChangeList,
    summary="Events: a page of past ones, or a live stream",
    responses={
        **error_responses(422),
        200: {
            "description": "A page of events (JSON), or with `Accept: text/event-stream` "
            "a stream that stays open and pushes each new event.",
            "content": {EVENT_STREAM: {"schema": {"type": "string"}}},
        },
    },
)
async def list_or_stream(
    request: Request,
    runtime: RuntimeDep,
    params: Annotated[ChangeListParams, Query()],
    last_event_id: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response | ChangeList:
    """Every change that matters, oldest first: message.received, message.sent,
    message.status, conversation.read, media.stored, call.received and job.dead.

    Ids ascend in commit order, so `since=<the last id you saw>` misses nothing. With
    `Accept: text/event-stream` the answer is a Server-Sent Events stream: past events
    after `since` (or the `Last-Event-ID` a reconnecting client sends), then each new
    one as it is committed, on any replica.
    """
    types = params.type_list()
    if wants_stream(request):
        since = parse_last_event_id(last_event_id)
        if since is None:
            since = params.since if params.since is not None else await service.last_id(runtime)
        feed = service.stream(runtime, since, types=types, conversation_id=params.conversation)
        return StreamingResponse(feed, media_type=EVENT_STREAM, headers=STREAM_HEADERS)
    since = params.since or 0
    events = await service.list_changes(
        runtime, since, limit=params.limit, types=types, conversation_id=params.conversation
    )
    out = [ChangeOut.model_validate(e) for e in events]
    return ChangeList(count=len(out), events=out, next_since=out[-1].id if out else since)

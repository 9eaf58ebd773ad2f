"""Routes of the webhook event log: every signed delivery as received, and its outcome."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from app.deps import ApiKeyDep, SessionDep
from app.errors import error_responses
from app.events import service
from app.events.schemas import EventList, EventListParams, EventOut, EventSummary
from app.models import MAX_ID

router = APIRouter(
    prefix="/webhook-events",
    tags=["webhook events"],
    dependencies=[ApiKeyDep],
    responses=error_responses(401),
)

EventId = Annotated[int, Path(ge=1, le=MAX_ID, description="The event's id.")]


@router.get(
    "/",
    response_model=EventList,
    summary="List received webhook deliveries",
    responses=error_responses(422),
)
async def list_events(
    session: SessionDep, params: Annotated[EventListParams, Query()]
) -> EventList:
    """Every signed delivery, newest first, with how many items it stored and rejected.

    `rejected=true` lists the deliveries that had an item the service could not store,
    or that were not a WhatsApp webhook at all; each one's detail says where and why.
    The cursor carries the filter of the page it came from.
    """
    page = await service.list_events(session, params)
    events = [EventSummary.model_validate(event) for event in page.items]
    return EventList(count=len(events), events=events, next_cursor=page.next_cursor)


@router.get(
    "/{event_id}",
    response_model=EventOut,
    summary="One webhook delivery as received",
    responses=error_responses(404, 422),
)
async def get_event(session: SessionDep, event_id: EventId) -> EventOut:
    """The delivery's body exactly as received, and the path and reason of each rejection."""
    return EventOut.of(await service.get_event(session, event_id))

"""What the event log API does: list deliveries as received, and show one."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.events.exceptions import EventNotFound
from app.events.repository import EventRepository
from app.events.schemas import EventListParams
from app.models import WebhookEvent
from app.pagination import Cursor, Page, page_start, paginate

CURSOR_LIST = "webhook-events"


async def list_events(session: AsyncSession, params: EventListParams) -> Page[WebhookEvent]:
    """Deliveries newest first, with (or without) rejected items as `params` or its cursor say."""
    start = page_start(CURSOR_LIST, params)
    params = start.params
    rows = await EventRepository(session).list_newest_first(
        rejected=params.rejected,
        before_id=start.after.id if start.after else None,
        limit=params.limit + 1,
    )
    return paginate(rows, params, CURSOR_LIST, lambda event: Cursor(at=None, id=event.id))


async def get_event(session: AsyncSession, event_id: int) -> WebhookEvent:
    """The event with this id; EventNotFound if there is none."""
    event = await EventRepository(session).get_by_id(event_id)
    if event is None:
        raise EventNotFound(f"no webhook event with id {event_id}", event_id=event_id)
    return event

"""What the event log API does: list deliveries as received, and show one."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.events.exceptions import EventNotFound
from app.events.repository import EventRepository
from app.models import WebhookEvent
from app.pagination import Cursor, Page, decode_cursor, paginate

CURSOR_LIST = "webhook-events"


async def list_events(
    session: AsyncSession, *, rejected: bool | None, cursor: str | None, limit: int
) -> Page[WebhookEvent]:
    """Deliveries newest first, optionally only those with (or without) rejected items."""
    before_id = decode_cursor(CURSOR_LIST, cursor).id if cursor else None
    rows = await EventRepository(session).list_newest_first(
        rejected=rejected, before_id=before_id, limit=limit + 1
    )
    return paginate(rows, limit, CURSOR_LIST, lambda event: Cursor(at=None, id=event.id))


async def get_event(session: AsyncSession, event_id: int) -> WebhookEvent:
    """The event with this id; EventNotFound if there is none."""
    event = await EventRepository(session).get_by_id(event_id)
    if event is None:
        raise EventNotFound(f"no webhook event with id {event_id}", event_id=event_id)
    return event

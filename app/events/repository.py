"""SQL for the raw event log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.models import WebhookEvent


class EventRepository:
    """Adds to the log of webhook bodies; rows are never changed."""

    model = WebhookEvent

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(
        self, *, body: Any, object_: str | None, fields: list[str], received_at: datetime
    ) -> WebhookEvent:
        """Log a webhook body in the current transaction and return the row (with its id)."""
        event = WebhookEvent(
            received_at=received_at,
            object=object_,
            fields=",".join(fields)[:255] or None,
            body=body,
        )
        self.session.add(event)
        await self.session.flush()
        return event

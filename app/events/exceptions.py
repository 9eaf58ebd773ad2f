"""Errors of the webhook event log API."""

from __future__ import annotations

from app.errors import NotFound


class EventNotFound(NotFound):
    """No webhook event has that id."""

    error = "event_not_found"

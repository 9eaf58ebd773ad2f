"""A webhook body read into the rows it stores and the items it rejects, before any SQL."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.message_templates.updates import TemplateUpdate, template_update
from app.webhook.delivery import Rejection, parse_delivery
from app.webhook.rows import CustomerCall, Incoming, calls_of, incoming_messages, status_rows
from app.webhook.schemas import CallsValue, MetaError


@dataclass
class PreparedDelivery:
    """A delivery read into rows, before any SQL: what to store and what was rejected."""

    object_: str
    fields: list[str]
    messages: list[Incoming] = field(default_factory=list)
    statuses: list[dict[str, Any]] = field(default_factory=list)
    calls: list[CallsValue] = field(default_factory=list)
    callers: list[CustomerCall] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    reported_errors: list[MetaError] = field(default_factory=list)
    other_changes: list[tuple[str, str | None]] = field(default_factory=list)
    template_updates: list[TemplateUpdate] = field(default_factory=list)

    @property
    def stored_items(self) -> int:
        """How many messages, statuses and calls of the delivery can be stored."""
        return len(self.messages) + len(self.statuses) + sum(len(v.calls) for v in self.calls)


def prepare(body: bytes, default_phone_number_id: str, received_at: datetime) -> PreparedDelivery:
    """Read a signed body into the rows it stores and the items it rejects (no I/O).

    Raises MalformedJSON or NotAWhatsAppWebhook when the body is not a WhatsApp webhook.
    """
    parsed = parse_delivery(body)
    prepared = PreparedDelivery(parsed.object_, parsed.fields, rejections=parsed.rejections)
    for items in parsed.changes:
        prepared.reported_errors += items.errors
        if items.field == "messages":
            prepared.messages += incoming_messages(
                items, default_phone_number_id, received_at, prepared.rejections
            )
            prepared.statuses += status_rows(items, received_at, prepared.rejections)
        else:
            prepared.other_changes.append((items.field, items.entry_id))
            update = template_update(items.field, items.value)
            if update is not None:
                prepared.template_updates.append(update)
        if items.field == "calls":
            callers = calls_of(items, default_phone_number_id, prepared.rejections)
            prepared.callers += callers
            prepared.calls.append(
                CallsValue.model_construct(
                    metadata=items.metadata,
                    contacts=items.contacts,
                    calls=[c.call for c in callers],
                    errors=items.errors,
                )
            )
    return prepared

"""From a call event of Meta's `calls` webhook to the row of its call."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.models import CallStatus
from app.webhook.schemas import Call

# Meta's event that ends a call; every other event (connect) means it is ringing.
TERMINATE = "terminate"


def call_status(call: Call) -> str:
    """What the event says of its call: ringing, or ended answered (completed) or not (missed).

    A terminated call that never started (no start time, no duration) was not answered.
    """
    if (call.event or "").lower() != TERMINATE:
        return CallStatus.RINGING
    answered = call.start_time is not None or bool(call.duration)
    return CallStatus.COMPLETED if answered else CallStatus.MISSED


def call_row(
    call: Call,
    *,
    conversation_id: int | None,
    phone_number_id: str,
    phone_number: str | None,
    user_id: str | None,
    received_at: datetime,
) -> dict[str, Any]:
    """The whatsapp_call row one event of a call gives (a missing time is `received_at`)."""
    return {
        "call_id": call.id,
        "conversation_id": conversation_id,
        "phone_number_id": phone_number_id,
        "phone_number": phone_number,
        "user_id": user_id,
        "direction": call.direction,
        "status": call_status(call),
        "timestamp": call.timestamp or received_at,
        "started_at": call.start_time,
        "ended_at": call.end_time,
        "duration_seconds": call.duration,
        "created_at": received_at,
        "updated_at": received_at,
    }

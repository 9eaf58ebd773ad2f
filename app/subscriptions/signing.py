"""The body of a delivery and its signature, made as Meta signs its webhooks to us."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime

from app.changes.schemas import ChangeOut
from app.models import ChangeEvent

SIGNATURE_HEADER = "X-Signature-256"


def delivery_body(event: ChangeEvent, *, now: datetime) -> bytes:
    """The event as JSON, with the time of sending in `timestamp` (Unix seconds).

    The timestamp and the event id are inside the signed body, so a receiver can refuse
    a replayed delivery (an old timestamp, or an id it has already handled).
    """
    envelope = ChangeOut.model_validate(event).model_dump(mode="json")
    envelope["timestamp"] = int(now.timestamp())
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()


def signature(secret: str, body: bytes) -> str:
    """`sha256=` and the hex HMAC-SHA256 of the exact body under the subscription's secret."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def delivery_headers(
    secret: str, body: bytes, event: ChangeEvent, delivery_id: int, *, now: datetime
) -> dict[str, str]:
    """The headers of a delivery: the signature, and the event's id, type and time."""
    return {
        "Content-Type": "application/json",
        "User-Agent": "whatsapp-inbox-webhooks",
        SIGNATURE_HEADER: signature(secret, body),
        "X-Event-Id": str(event.id),
        "X-Event-Type": event.type,
        "X-Event-Timestamp": str(int(now.timestamp())),
        "X-Delivery-Id": str(delivery_id),
    }

"""Shapes of the subscriptions API."""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime
from typing import Literal
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.changes.types import CHANGE_TYPES
from app.models import MAX_ID

DeliveryStateName = Literal["pending", "delivered", "dead"]
# Letters, digits, hyphens and dots: what DNS names hold (internal names need no dot).
_HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class SubscriptionIn(BaseModel):
    """Where to POST events, and which ones."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "url": "https://crm.internal.example/whatsapp-events",
                    "event_types": ["message.received", "message.status"],
                    "description": "CRM timeline",
                }
            ]
        },
    )

    url: str = Field(max_length=2048, description="An http or https URL.")
    event_types: list[str] = Field(
        min_length=1,
        max_length=len(CHANGE_TYPES),
        description="Any of: " + ", ".join(CHANGE_TYPES) + ".",
    )
    description: str = Field("", max_length=500)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host")
        try:
            parts.port  # noqa: B018 (it raises for a port out of range)
            httpx.URL(value.strip())
        except (ValueError, httpx.InvalidURL) as exc:
            raise ValueError(f"is not a URL a request can be sent to: {exc}") from None
        if not _HOST.fullmatch(parts.hostname) and not _is_ip(parts.hostname):
            raise ValueError(f"host {parts.hostname!r} is not a host name or an IP address")
        return value.strip()

    @field_validator("event_types")
    @classmethod
    def _known_types(cls, value: list[str]) -> list[str]:
        unknown = [t for t in value if t not in CHANGE_TYPES]
        if unknown:
            raise ValueError(
                f"unknown event type(s) {', '.join(unknown)}; known: {', '.join(CHANGE_TYPES)}"
            )
        return value


class SubscriptionOut(BaseModel):
    """A subscription (its secret is shown once, when it is made)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    url: str
    event_types: list[str]
    description: str
    active: bool
    created_at: datetime


class SubscriptionCreated(SubscriptionOut):
    """A new subscription with its secret: keep it now, it is never shown again.

    Each delivery is a POST of the event as JSON with `X-Signature-256:
    sha256=<hex HMAC-SHA256 of the exact body under the secret>`, as Meta signs its
    webhooks; `X-Event-Id` and `X-Event-Timestamp` repeat the body's `id` and
    `timestamp` (seconds), which the signature covers, so replays can be refused.
    """

    secret: str


class SubscriptionList(BaseModel):
    """Every subscription."""

    count: int
    subscriptions: list[SubscriptionOut]


class DeliveryListParams(BaseModel):
    """Filters and paging of a delivery log."""

    model_config = ConfigDict(extra="forbid")

    state: DeliveryStateName | None = None
    before: int | None = Field(
        None, ge=1, le=MAX_ID, description="Deliveries with smaller ids (the next page)."
    )
    limit: int = Field(50, ge=1, le=500)


class DeliveryOut(BaseModel):
    """One event's delivery to the subscriber: where it stands and how its last try went."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    event_id: int
    event_type: str
    conversation_id: int | None
    state: DeliveryStateName
    attempts: int
    last_status_code: int | None
    last_error: str | None
    last_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime


class DeliveryList(BaseModel):
    """A page of the delivery log, newest first."""

    count: int
    deliveries: list[DeliveryOut]
    next_before: int | None = Field(description="Pass as `before` for the next page.")

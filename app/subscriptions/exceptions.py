"""Errors of the subscriptions domain."""

from __future__ import annotations

from app.errors import DomainError, NotFound


class SubscriptionNotFound(NotFound):
    """No subscription has this id."""

    error = "subscription_not_found"


class DeliveryNotFound(NotFound):
    """The subscription has no delivery with this id."""

    error = "delivery_not_found"


class DeliveryStillPending(DomainError):
    """A pending delivery is being delivered already; only finished ones are sent again."""

    status_code = 409
    error = "delivery_pending"


class InvalidSubscription(DomainError):
    """A subscription that could never be delivered to."""

    status_code = 422
    error = "invalid_subscription"

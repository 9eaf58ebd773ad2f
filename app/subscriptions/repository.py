"""SQL for subscriptions and their delivery log.

A subscription's row is the lock of its deliveries: whoever decides which delivery of a
conversation goes next (the dispatcher adding deliveries, a delivery finishing, a
redelivery) holds it, so that each conversation has at most one delivery in flight per
subscription and none is forgotten.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import ChangeEvent, DeliveryState, Subscription, SubscriptionDelivery

_deliveries = cast(Table, SubscriptionDelivery.__table__)


class SubscriptionRepository:
    """Subscriptions: add, find, lock, remove."""

    model = Subscription

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, subscription: Subscription) -> Subscription:
        """Add a subscription to the current transaction and return it with its id."""
        self.session.add(subscription)
        await self.session.flush()
        return subscription

    async def get_by_id(self, subscription_id: int) -> Subscription | None:
        """The subscription with this id, or None."""
        return await self.session.get(Subscription, subscription_id)

    async def lock(self, subscription_id: int) -> Subscription | None:
        """The subscription, locked until commit (SQLite's writers are serial anyway)."""
        result = await self.session.execute(
            select(Subscription)
            .where(Subscription.id == subscription_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return result.scalar_one_or_none()

    async def lock_active(self) -> list[Subscription]:
        """The active subscriptions no other transaction holds, locked until commit."""
        result = await self.session.execute(
            select(Subscription)
            .where(Subscription.active.is_(True))
            .order_by(Subscription.id)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
        return list(result.scalars())

    async def list_all(self) -> list[Subscription]:
        """Every subscription, oldest first."""
        result = await self.session.execute(select(Subscription).order_by(Subscription.id))
        return list(result.scalars())

    async def remove(self, subscription_id: int) -> bool:
        """Delete a subscription and its delivery log; False if there was none."""
        result = await self.session.execute(
            delete(Subscription).where(Subscription.id == subscription_id)
        )
        return bool(getattr(result, "rowcount", 0))


class DeliveryRepository:
    """The delivery log: one row per event and subscription."""

    model = SubscriptionDelivery

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_many(
        self, subscription_id: int, events: Sequence[ChangeEvent], *, now: datetime
    ) -> list[int]:
        """Add a pending delivery of each event; return their ids in the events' order."""
        rows = [
            {
                "subscription_id": subscription_id,
                "event_id": e.id,
                "event_type": e.type,
                "conversation_id": e.conversation_id,
                "state": DeliveryState.PENDING,
                "attempts": 0,
                "created_at": now,
            }
            for e in events
        ]
        result = await self.session.execute(
            insert(_deliveries).returning(_deliveries.c.id, sort_by_parameter_order=True), rows
        )
        return [int(id_) for id_ in result.scalars()]

    async def busy_conversations(
        self, subscription_id: int, conversation_ids: set[int], *, before_id: int
    ) -> set[int]:
        """Which of these conversations have a pending delivery older than `before_id`."""
        if not conversation_ids:
            return set()
        result = await self.session.execute(
            select(SubscriptionDelivery.conversation_id)
            .where(
                SubscriptionDelivery.subscription_id == subscription_id,
                SubscriptionDelivery.conversation_id.in_(sorted(conversation_ids)),
                SubscriptionDelivery.state == DeliveryState.PENDING,
                SubscriptionDelivery.id < before_id,
            )
            .distinct()
        )
        return {int(c) for c in result.scalars() if c is not None}

    async def next_in_conversation(
        self, subscription_id: int, conversation_id: int, *, other_than: int
    ) -> int | None:
        """The oldest pending delivery of the conversation but `other_than`, or None."""
        result = await self.session.execute(
            select(SubscriptionDelivery.id)
            .where(
                SubscriptionDelivery.subscription_id == subscription_id,
                SubscriptionDelivery.conversation_id == conversation_id,
                SubscriptionDelivery.state == DeliveryState.PENDING,
                SubscriptionDelivery.id != other_than,
            )
            .order_by(SubscriptionDelivery.id)
            .limit(1)
        )
        found = result.scalar_one_or_none()
        return int(found) if found is not None else None

    async def get_by_id(self, delivery_id: int) -> SubscriptionDelivery | None:
        """The delivery with this id, or None."""
        return await self.session.get(SubscriptionDelivery, delivery_id)

    async def get_with_event(
        self, delivery_id: int
    ) -> tuple[SubscriptionDelivery, Subscription, ChangeEvent] | None:
        """The delivery with its subscription and event, or None when any is gone."""
        result = await self.session.execute(
            select(SubscriptionDelivery, Subscription, ChangeEvent)
            .join(Subscription, Subscription.id == SubscriptionDelivery.subscription_id)
            .join(ChangeEvent, ChangeEvent.id == SubscriptionDelivery.event_id)
            .where(SubscriptionDelivery.id == delivery_id)
        )
        row = result.one_or_none()
        return (row[0], row[1], row[2]) if row is not None else None

    async def record_attempt(
        self,
        delivery_id: int,
        *,
        now: datetime,
        status_code: int | None,
        error: str | None,
        delivered: bool,
    ) -> bool:
        """Count an attempt of a pending delivery and its outcome; False if not pending."""
        values: dict[str, Any] = {
            "attempts": SubscriptionDelivery.attempts + 1,
            "last_attempt_at": now,
            "last_status_code": status_code,
            "last_error": error,
        }
        if delivered:
            values.update(state=DeliveryState.DELIVERED, delivered_at=now)
        result = await self.session.execute(
            update(SubscriptionDelivery)
            .where(
                SubscriptionDelivery.id == delivery_id,
                SubscriptionDelivery.state == DeliveryState.PENDING,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))

    async def mark_dead(self, delivery_id: int, error: str) -> bool:
        """A pending delivery's attempts are used up; False if it was not pending."""
        result = await self.session.execute(
            update(SubscriptionDelivery)
            .where(
                SubscriptionDelivery.id == delivery_id,
                SubscriptionDelivery.state == DeliveryState.PENDING,
            )
            .values(state=DeliveryState.DEAD, last_error=error)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))

    async def reset(self, delivery_id: int) -> SubscriptionDelivery | None:
        """Make a delivered or dead delivery pending again with fresh attempts."""
        result = await self.session.execute(
            update(SubscriptionDelivery)
            .where(
                SubscriptionDelivery.id == delivery_id,
                SubscriptionDelivery.state != DeliveryState.PENDING,
            )
            .values(state=DeliveryState.PENDING, attempts=0, delivered_at=None)
            .returning(SubscriptionDelivery)
            .execution_options(populate_existing=True)
        )
        return result.scalar_one_or_none()

    async def list_newest_first(
        self,
        subscription_id: int,
        *,
        state: str | None,
        before_id: int | None,
        limit: int,
    ) -> list[SubscriptionDelivery]:
        """A subscription's deliveries by descending id, optionally of one state."""
        stmt = (
            select(SubscriptionDelivery)
            .where(SubscriptionDelivery.subscription_id == subscription_id)
            .order_by(SubscriptionDelivery.id.desc())
            .limit(limit)
        )
        if state is not None:
            stmt = stmt.where(SubscriptionDelivery.state == state)
        if before_id is not None:
            stmt = stmt.where(SubscriptionDelivery.id < before_id)
        result = await self.session.execute(stmt)
        return list(result.scalars())

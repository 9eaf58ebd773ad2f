"""What the subscriptions domain does: subscribe, fan events out to deliveries in order,
keep the delivery log, and send a delivery again on request.

Order per conversation: a subscription has at most one delivery of a conversation in
flight (a job in the jobs table); the next one is queued when it is delivered or dead.
Events without a conversation (job.dead) are delivered independently.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.changes.repository import ChangeRepository
from app.config import Settings
from app.jobs import kinds
from app.jobs.repository import JobRepository
from app.models import DeliveryState, Subscription, SubscriptionDelivery
from app.subscriptions.exceptions import (
    DeliveryNotFound,
    DeliveryStillPending,
    SubscriptionNotFound,
)
from app.subscriptions.repository import DeliveryRepository, SubscriptionRepository

# Events a dispatch reads per subscription and transaction.
DISPATCH_BATCH = 500


async def subscribe(
    session: AsyncSession, *, url: str, event_types: list[str], description: str
) -> Subscription:
    """A new subscription with a random secret; it receives events from now on."""
    subscription = Subscription(
        url=url,
        event_types=sorted(set(event_types)),
        description=description,
        secret=secrets.token_urlsafe(32),
        active=True,
        last_event_id=await ChangeRepository(session).last_id(),
    )
    return await SubscriptionRepository(session).add(subscription)


async def list_subscriptions(session: AsyncSession) -> list[Subscription]:
    """Every subscription, oldest first."""
    return await SubscriptionRepository(session).list_all()


async def get_subscription(session: AsyncSession, subscription_id: int) -> Subscription:
    """The subscription with this id, or SubscriptionNotFound."""
    subscription = await SubscriptionRepository(session).get_by_id(subscription_id)
    if subscription is None:
        raise SubscriptionNotFound(f"no subscription with id {subscription_id}")
    return subscription


async def unsubscribe(session: AsyncSession, subscription_id: int) -> None:
    """Remove a subscription and its log; queued deliveries of it then do nothing."""
    if not await SubscriptionRepository(session).remove(subscription_id):
        raise SubscriptionNotFound(f"no subscription with id {subscription_id}")


async def list_deliveries(
    session: AsyncSession,
    subscription_id: int,
    *,
    state: str | None,
    before_id: int | None,
    limit: int,
) -> list[SubscriptionDelivery]:
    """The subscription's delivery log, newest first."""
    await get_subscription(session, subscription_id)
    return await DeliveryRepository(session).list_newest_first(
        subscription_id, state=state, before_id=before_id, limit=limit
    )


async def _queue(
    session: AsyncSession, delivery_ids: list[int], *, now: datetime, max_attempts: int
) -> None:
    await JobRepository(session).enqueue_many(
        kinds.SUBSCRIPTION_DELIVERY,
        [{"delivery_id": delivery_id} for delivery_id in delivery_ids],
        max_attempts=max_attempts,
        run_after=now,
    )


async def redeliver(
    session: AsyncSession,
    settings: Settings,
    subscription_id: int,
    delivery_id: int,
    *,
    now: datetime,
) -> SubscriptionDelivery:
    """Send a delivered or dead delivery again, with fresh attempts.

    It is queued at once unless another delivery of its conversation is in flight; it
    then follows that one.
    """
    if await SubscriptionRepository(session).lock(subscription_id) is None:
        raise SubscriptionNotFound(f"no subscription with id {subscription_id}")
    deliveries = DeliveryRepository(session)
    existing = await deliveries.get_by_id(delivery_id)
    if existing is None or existing.subscription_id != subscription_id:
        raise DeliveryNotFound(f"subscription {subscription_id} has no delivery {delivery_id}")
    if existing.state == DeliveryState.PENDING:
        raise DeliveryStillPending(f"delivery {delivery_id} is still being delivered")
    delivery = await deliveries.reset(delivery_id)
    if delivery is None:
        raise DeliveryStillPending(f"delivery {delivery_id} is still being delivered")
    in_flight = (
        delivery.conversation_id is not None
        and await deliveries.next_in_conversation(
            subscription_id, delivery.conversation_id, other_than=delivery_id
        )
        is not None
    )
    if not in_flight:
        await _queue(
            session, [delivery_id], now=now, max_attempts=settings.subscription_max_attempts
        )
    return delivery


async def finish(
    session: AsyncSession, delivery: SubscriptionDelivery, *, now: datetime, max_attempts: int
) -> None:
    """After a delivery is delivered or dead, queue the next one of its conversation
    (with the attempts its own job had).

    The caller holds the subscription's lock (SubscriptionRepository.lock).
    """
    if delivery.conversation_id is None:
        return
    following = await DeliveryRepository(session).next_in_conversation(
        delivery.subscription_id, delivery.conversation_id, other_than=delivery.id
    )
    if following is not None:
        await _queue(session, [following], now=now, max_attempts=max_attempts)


async def dispatch(session: AsyncSession, settings: Settings, *, now: datetime) -> bool:
    """Turn the events each active subscription has not seen into deliveries; queue the
    first delivery of each conversation that has none in flight. The caller commits.

    Returns True when a subscription had more events than one batch (call again).
    """
    more = False
    changes = ChangeRepository(session)
    deliveries = DeliveryRepository(session)
    for subscription in await SubscriptionRepository(session).lock_active():
        events = await changes.list_after(subscription.last_event_id, limit=DISPATCH_BATCH)
        if not events:
            continue
        more = more or len(events) == DISPATCH_BATCH
        subscription.last_event_id = events[-1].id
        wanted = set(subscription.event_types)
        matching = [e for e in events if e.type in wanted]
        if not matching:
            continue
        ids = await deliveries.add_many(subscription.id, matching, now=now)
        busy = await deliveries.busy_conversations(
            subscription.id,
            {e.conversation_id for e in matching if e.conversation_id is not None},
            before_id=min(ids),
        )
        first: list[int] = []
        for delivery_id, event in zip(ids, matching, strict=True):
            if event.conversation_id is None:
                first.append(delivery_id)
            elif event.conversation_id not in busy:
                busy.add(event.conversation_id)
                first.append(delivery_id)
        await _queue(session, first, now=now, max_attempts=settings.subscription_max_attempts)
    await session.flush()
    return more

"""Background work of subscriptions: POST one event to one subscriber.

The POST is made outside any transaction; its outcome is recorded after it, with the
next delivery of the conversation queued in the same transaction when it succeeded. A
failure raises, so the worker retries with backoff; when the attempts are used up the
job goes dead and record_dead_delivery marks the delivery dead and lets the next one go.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import utcnow
from app.jobs.exceptions import PermanentJobError, RetryableJobError
from app.models import DeliveryState, Job
from app.runtime import Runtime
from app.subscriptions import service
from app.subscriptions.network import BlockedAddress, GuardedTransport
from app.subscriptions.repository import DeliveryRepository, SubscriptionRepository
from app.subscriptions.signing import delivery_body, delivery_headers

logger = logging.getLogger(__name__)

MAX_ERROR = 500


class DeliveryFailed(RetryableJobError):
    """The subscriber did not take the event; the job is retried with backoff."""


def _delivery_id(job: Job) -> int:
    value = job.payload.get("delivery_id") if isinstance(job.payload, dict) else None
    if not isinstance(value, int):
        raise PermanentJobError("the job's payload has no delivery_id")
    return value


async def _record(
    runtime: Runtime,
    job: Job,
    delivery_id: int,
    *,
    status_code: int | None,
    error: str | None,
    delivered: bool,
) -> None:
    async with runtime.sessions() as session:
        delivery = await DeliveryRepository(session).get_by_id(delivery_id)
        if delivery is None:
            return
        await SubscriptionRepository(session).lock(delivery.subscription_id)
        recorded = await DeliveryRepository(session).record_attempt(
            delivery_id,
            now=runtime.clock(),
            status_code=status_code,
            error=error,
            delivered=delivered,
        )
        if recorded and delivered:
            await service.finish(
                session, delivery, now=runtime.clock(), max_attempts=job.max_attempts
            )
        await session.commit()


async def deliver_event(runtime: Runtime, job: Job) -> dict[str, Any] | None:
    """POST the delivery's event to its subscriber, signed; 2xx is delivered.

    Each delivery opens a connection of its own, so that the subscriber's name is
    resolved and checked against SUBSCRIPTION_BLOCKED_NETWORKS every time.
    """
    delivery_id = _delivery_id(job)
    async with runtime.sessions() as session:
        found = await DeliveryRepository(session).get_with_event(delivery_id)
    if found is None:
        return {"skipped": "the delivery, its subscription or its event is gone"}
    delivery, subscription, event = found
    if delivery.state != DeliveryState.PENDING:
        return {"skipped": f"the delivery is {delivery.state}"}
    settings = runtime.settings
    now = runtime.clock()
    body = delivery_body(event, now=now)
    headers = delivery_headers(subscription.secret, body, event, delivery_id, now=now)
    transport = GuardedTransport(settings.subscription_blocked_networks)
    try:
        async with httpx.AsyncClient(
            transport=transport,
            timeout=settings.subscription_timeout_seconds,
            follow_redirects=False,
        ) as client:
            response = await client.post(subscription.url, content=body, headers=headers)
    except (BlockedAddress, httpx.InvalidURL) as exc:
        await _record(runtime, job, delivery_id, status_code=None, error=str(exc), delivered=False)
        raise PermanentJobError(str(exc)) from None
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR]
        await _record(runtime, job, delivery_id, status_code=None, error=error, delivered=False)
        raise DeliveryFailed(error) from None
    if response.is_success:
        await _record(
            runtime, job, delivery_id, status_code=response.status_code, error=None, delivered=True
        )
        return {"status_code": response.status_code}
    if response.is_redirect:
        error = f"answered {response.status_code}; redirects are not followed"
    else:
        error = f"answered {response.status_code}: {response.text[:200]}"
    await _record(
        runtime, job, delivery_id, status_code=response.status_code, error=error, delivered=False
    )
    raise DeliveryFailed(error)


async def record_dead_delivery(session: AsyncSession, job: Job, error: str) -> None:
    """The delivery's job is dead: the delivery is dead too, and the next one of its
    conversation is queued (a dead delivery does not hold the others back)."""
    delivery_id = _delivery_id(job)
    deliveries = DeliveryRepository(session)
    delivery = await deliveries.get_by_id(delivery_id)
    if delivery is None:
        return
    await SubscriptionRepository(session).lock(delivery.subscription_id)
    if await deliveries.mark_dead(delivery_id, error):
        await service.finish(session, delivery, now=utcnow(), max_attempts=job.max_attempts)

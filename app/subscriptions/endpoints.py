"""Routes of subscriptions: subscribe, look at the delivery log, deliver again."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from app.deps import ApiKeyDep, NowDep, SessionDep, SettingsDep
from app.errors import ErrorBody, error_responses
from app.models import MAX_ID
from app.subscriptions import service
from app.subscriptions.schemas import (
    DeliveryList,
    DeliveryListParams,
    DeliveryOut,
    SubscriptionCreated,
    SubscriptionIn,
    SubscriptionList,
    SubscriptionOut,
)

router = APIRouter(
    prefix="/subscriptions",
    tags=["subscriptions"],
    dependencies=[ApiKeyDep],
    responses=error_responses(401),
)

SubscriptionId = Annotated[int, Path(ge=1, le=MAX_ID, description="The subscription's id.")]
DeliveryId = Annotated[int, Path(ge=1, le=MAX_ID, description="The delivery's id.")]


@router.post(
    "/",
    response_model=SubscriptionCreated,
    status_code=201,
    summary="Subscribe a service to events",
    responses=error_responses(422),
)
async def subscribe(session: SessionDep, body: SubscriptionIn) -> SubscriptionCreated:
    """Events of the given types are POSTed to `url` from now on, signed with the
    secret in the answer (shown this once), at least once, in order per conversation,
    retried with backoff while the service is down."""
    subscription = await service.subscribe(
        session, url=body.url, event_types=body.event_types, description=body.description
    )
    return SubscriptionCreated.model_validate(subscription)


@router.get("/", response_model=SubscriptionList, summary="List subscriptions")
async def list_subscriptions(session: SessionDep) -> SubscriptionList:
    """Every subscription, oldest first (without secrets)."""
    found = await service.list_subscriptions(session)
    items = [SubscriptionOut.model_validate(s) for s in found]
    return SubscriptionList(count=len(items), subscriptions=items)


@router.get(
    "/{subscription_id}",
    response_model=SubscriptionOut,
    summary="One subscription",
    responses=error_responses(404, 422),
)
async def get_subscription(session: SessionDep, subscription_id: SubscriptionId) -> SubscriptionOut:
    """The subscription (without its secret)."""
    return SubscriptionOut.model_validate(await service.get_subscription(session, subscription_id))


@router.delete(
    "/{subscription_id}",
    status_code=204,
    summary="Unsubscribe",
    responses=error_responses(404, 422),
)
async def unsubscribe(session: SessionDep, subscription_id: SubscriptionId) -> Response:
    """Stop deliveries to the subscription and drop its delivery log."""
    await service.unsubscribe(session, subscription_id)
    return Response(status_code=204)


@router.get(
    "/{subscription_id}/deliveries",
    response_model=DeliveryList,
    summary="The delivery log of a subscription",
    responses=error_responses(404, 422),
)
async def list_deliveries(
    session: SessionDep,
    subscription_id: SubscriptionId,
    params: Annotated[DeliveryListParams, Query()],
) -> DeliveryList:
    """Each event sent (or being sent) to the subscriber, newest first: its state
    (`pending`, `delivered`, or `dead` after the last attempt), attempts, and the last
    answer or error."""
    found = await service.list_deliveries(
        session, subscription_id, state=params.state, before_id=params.before, limit=params.limit
    )
    items = [DeliveryOut.model_validate(d) for d in found]
    next_before = items[-1].id if len(items) == params.limit else None
    return DeliveryList(count=len(items), deliveries=items, next_before=next_before)


@router.post(
    "/{subscription_id}/deliveries/{delivery_id}/redeliver",
    response_model=DeliveryOut,
    summary="Send a delivery again",
    responses={
        **error_responses(404, 422),
        409: {"model": ErrorBody, "description": "The delivery is still pending"},
    },
)
async def redeliver(
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    subscription_id: SubscriptionId,
    delivery_id: DeliveryId,
) -> DeliveryOut:
    """Send a delivered or dead delivery again, with fresh attempts (after the one of
    its conversation in flight, if any). A pending one answers 409."""
    delivery = await service.redeliver(session, settings, subscription_id, delivery_id, now=now)
    return DeliveryOut.model_validate(delivery)

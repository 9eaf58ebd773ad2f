"""Webhooks out: signed events POSTed to subscribers, in order, through outages."""

from __future__ import annotations

import asyncio
from ipaddress import IPv4Network
from typing import Any

import httpx
from sqlalchemy import select

from app.models import ChangeEvent, SubscriptionDelivery
from app.runtime import Runtime
from tests.subscriptions.conftest import (
    SUBSCRIPTIONS,
    Subscriber,
    delivering,
    eventually,
    json_of,
)
from tests.support import payloads as p
from tests.support.signing import signature


async def _subscribe(api: httpx.AsyncClient, url: str, *types: str) -> dict[str, Any]:
    response = await api.post(
        SUBSCRIPTIONS, json={"url": url, "event_types": list(types or ["message.received"])}
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def _deliveries(api: httpx.AsyncClient, subscription_id: int) -> list[dict[str, Any]]:
    response = await api.get(f"{SUBSCRIPTIONS}{subscription_id}/deliveries")
    assert response.status_code == 200, response.text
    deliveries: list[dict[str, Any]] = response.json()["deliveries"]
    return deliveries


async def test_a_subscription_shows_its_secret_once(api: httpx.AsyncClient) -> None:
    created = await _subscribe(api, "http://crm.internal:8080/events", "message.status")

    assert len(created["secret"]) >= 32
    shown = (await api.get(f"{SUBSCRIPTIONS}{created['id']}")).json()
    assert "secret" not in shown
    assert shown["event_types"] == ["message.status"]
    listed = (await api.get(SUBSCRIPTIONS)).json()
    assert [s["id"] for s in listed["subscriptions"]] == [created["id"]]
    assert "secret" not in listed["subscriptions"][0]


async def test_a_subscription_that_cannot_be_delivered_to_is_refused_with_422(
    api: httpx.AsyncClient,
) -> None:
    for body in (
        {"url": "ftp://crm.internal/events", "event_types": ["message.received"]},
        {"url": "crm.internal/events", "event_types": ["message.received"]},
        {"url": "http://crm.internal/events", "event_types": []},
        {"url": "http://crm.internal/events", "event_types": ["message.eaten"]},
        {"url": "http://crm internal/events", "event_types": ["message.received"]},
        {"url": "http://crm.internal:99999/events", "event_types": ["message.received"]},
    ):
        response = await api.post(SUBSCRIPTIONS, json=body)
        assert response.status_code == 422, body
        assert response.json()["error"]
    assert (await api.get(SUBSCRIPTIONS)).json()["count"] == 0


async def test_unknown_subscriptions_and_deliveries_are_404(api: httpx.AsyncClient) -> None:
    assert (await api.get(f"{SUBSCRIPTIONS}99")).status_code == 404
    assert (await api.delete(f"{SUBSCRIPTIONS}99")).status_code == 404
    assert (await api.get(f"{SUBSCRIPTIONS}99/deliveries")).status_code == 404
    created = await _subscribe(api, "http://crm.internal/events")
    redeliver = f"{SUBSCRIPTIONS}{created['id']}/deliveries/5/redeliver"
    assert (await api.post(redeliver)).status_code == 404


async def test_a_subscriber_gets_signed_events_in_order_and_survives_being_down(
    api: httpx.AsyncClient, runtime: Runtime, subscriber: Subscriber
) -> None:
    created = await _subscribe(api, subscriber.url, "message.received", "message.status")
    wamids = [p.new_wamid() for _ in range(4)]
    async with delivering(runtime):
        # The subscriber is down: every delivery of the conversation waits for the first.
        for n, wamid in enumerate(wamids[:3]):
            await p.deliver(api, p.inbound(p.text_message(f"message {n}", id=wamid)))

        async def failed_a_few_times() -> bool:
            deliveries = await _deliveries(api, created["id"])
            return any(d["attempts"] >= 3 for d in deliveries)

        await eventually(failed_a_few_times)
        first = (await _deliveries(api, created["id"]))[-1]
        assert first["state"] == "pending"
        assert "ConnectError" in first["last_error"]
        async with subscriber.up():
            await p.deliver(api, p.inbound(p.text_message("message 3", id=wamids[3])))
            await p.deliver(api, p.status_update(p.status(wamids[0], "read")))

            async def all_received() -> bool:
                return len(subscriber.received) >= 5

            await eventually(all_received)
            await asyncio.sleep(0.3)  # nothing more arrives

    bodies = [json_of(r) for r in subscriber.received]
    texts = [b["data"].get("text_body") for b in bodies if b["type"] == "message.received"]
    assert texts == [f"message {n}" for n in range(4)]
    assert [b["type"] for b in bodies][-1] == "message.status"
    assert [b["id"] for b in bodies] == sorted(b["id"] for b in bodies)
    for received, body in zip(subscriber.received, bodies, strict=True):
        assert received.headers["x-signature-256"] == signature(received.body, created["secret"])
        assert received.headers["x-event-id"] == str(body["id"])
        assert received.headers["x-event-timestamp"] == str(body["timestamp"])
    deliveries = await _deliveries(api, created["id"])
    assert {d["state"] for d in deliveries} == {"delivered"}
    assert deliveries[-1]["attempts"] >= 3


async def test_a_blocked_address_is_refused_after_dns_and_the_delivery_dies(
    api: httpx.AsyncClient, runtime: Runtime, subscriber: Subscriber
) -> None:
    runtime.settings.subscription_blocked_networks = [IPv4Network("127.0.0.0/8")]
    # A name, not an address: the check happens after it is resolved.
    created = await _subscribe(api, f"http://localhost:{subscriber.port}/hook")
    async with subscriber.up(), delivering(runtime):
        await p.deliver(api, p.inbound(p.text_message("to a blocked address")))

        async def dead() -> bool:
            deliveries = await _deliveries(api, created["id"])
            return bool(deliveries) and deliveries[0]["state"] == "dead"

        await eventually(dead)

    assert subscriber.received == []
    (delivery,) = await _deliveries(api, created["id"])
    assert "SUBSCRIPTION_BLOCKED_NETWORKS" in delivery["last_error"]
    async with runtime.sessions() as session:
        types = (await session.scalars(select(ChangeEvent.type))).all()
    assert "job.dead" in types


async def test_redirects_are_not_followed_and_a_dead_delivery_can_be_sent_again(
    api: httpx.AsyncClient, runtime: Runtime, subscriber: Subscriber
) -> None:
    runtime.settings.subscription_max_attempts = 2
    subscriber.redirects_to = f"http://127.0.0.1:{subscriber.port}/elsewhere"
    created = await _subscribe(api, subscriber.url)
    async with subscriber.up(), delivering(runtime):
        await p.deliver(api, p.inbound(p.text_message("redirected?")))

        async def dead() -> bool:
            deliveries = await _deliveries(api, created["id"])
            return bool(deliveries) and deliveries[0]["state"] == "dead"

        await eventually(dead)
        (delivery,) = await _deliveries(api, created["id"])
        assert delivery["attempts"] == 2
        assert delivery["last_status_code"] == 302
        assert [r.body for r in subscriber.received].count(b"redirected") == 0

        subscriber.redirects_to = None
        url = f"{SUBSCRIPTIONS}{created['id']}/deliveries/{delivery['id']}/redeliver"
        response = await api.post(url)
        assert response.status_code == 200, response.text
        assert response.json()["state"] == "pending"

        async def delivered() -> bool:
            return (await _deliveries(api, created["id"]))[0]["state"] == "delivered"

        await eventually(delivered)

    assert (await api.post(url)).status_code == 200
    assert len(subscriber.received) == 3


async def test_unsubscribing_drops_the_log(api: httpx.AsyncClient, runtime: Runtime) -> None:
    created = await _subscribe(api, "http://crm.internal/events")

    assert (await api.delete(f"{SUBSCRIPTIONS}{created['id']}")).status_code == 204

    async with runtime.sessions() as session:
        assert (await session.scalars(select(SubscriptionDelivery))).all() == []
    assert (await api.get(f"{SUBSCRIPTIONS}{created['id']}")).status_code == 404

"""Statuses are stored once per (wamid, status) and only ever move a message forward,
whatever order Meta delivers them in; a status for a message not stored yet is kept."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from app.messages.repository import MessageRepository
from app.runtime import Runtime
from tests.conftest import PHONE_NUMBER_ID
from tests.support import payloads as p
from tests.webhook import stored

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


async def sent_message(runtime: Runtime, status: str = "accepted") -> str:
    """An outbound message as the send path stores it; returns its wamid."""
    wamid = p.new_wamid()
    async with runtime.sessions() as session:
        await MessageRepository(session).insert_ignore(
            [
                {
                    "message_id": wamid,
                    "direction": "out",
                    "phone_number_id": PHONE_NUMBER_ID,
                    "to_number": p.CUSTOMER_NUMBER,
                    "message_type": "text",
                    "text_body": "Your order has shipped",
                    "timestamp": T0,
                    "status": status,
                    "notes": "",
                }
            ]
        )
        await session.commit()
    return wamid


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


async def test_statuses_in_order_end_in_read(client: httpx.AsyncClient, runtime: Runtime) -> None:
    wamid = await sent_message(runtime)
    for step, name in enumerate(["sent", "delivered", "read"]):
        await p.deliver(client, p.status_update(p.status(wamid, name, timestamp=at(step))))
    row = await stored.message(runtime, wamid)
    assert (row.status, row.status_at) == ("read", at(2))


async def test_read_before_delivered_before_sent_ends_in_read(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    wamid = await sent_message(runtime)
    for step, name in [(2, "read"), (1, "delivered"), (0, "sent")]:
        response = await p.deliver(
            client, p.status_update(p.status(wamid, name, timestamp=at(step)))
        )
        assert response.status_code == 200
    row = await stored.message(runtime, wamid)
    assert (row.status, row.status_at) == ("read", at(2))
    assert sorted(s.status for s in await stored.statuses(runtime, message_id=wamid)) == [
        "delivered",
        "read",
        "sent",
    ]


async def test_statuses_out_of_order_in_one_delivery_end_in_the_furthest(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    wamid = await sent_message(runtime)
    payload = p.status_update(
        p.status(wamid, "read", timestamp=at(2)),
        p.status(wamid, "sent", timestamp=at(0)),
        p.status(wamid, "delivered", timestamp=at(1)),
    )
    response = await p.deliver(client, payload)
    assert response.json()["new_statuses"] == 3
    assert (await stored.message(runtime, wamid)).status == "read"


async def test_redelivered_status_is_stored_once(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    wamid = await sent_message(runtime)
    payload = p.status_update(p.status(wamid, "delivered"))
    first = await p.deliver(client, payload)
    again = await p.deliver(client, payload)
    assert (first.json()["new_statuses"], again.json()["new_statuses"]) == (1, 0)
    assert len(await stored.statuses(runtime)) == 1


async def test_status_is_stored_with_its_recipient_pricing_and_conversation(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    wamid = await sent_message(runtime)
    report = p.status(wamid, "sent", timestamp=at(0))
    await p.deliver(client, p.status_update(report))
    (row,) = await stored.statuses(runtime)
    assert (row.message_id, row.status, row.timestamp, row.recipient_id) == (
        wamid,
        "sent",
        at(0),
        p.CUSTOMER_NUMBER,
    )
    assert row.pricing == report["pricing"]
    assert row.conversation == report["conversation"]
    assert row.raw == report


async def test_failed_status_keeps_its_errors_on_the_status_and_the_message(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    wamid = await sent_message(runtime)
    errors = [p.failure(131047, "Re-engagement message")]
    await p.deliver(client, p.status_update(p.status(wamid, "failed", errors=errors)))
    (row,) = await stored.statuses(runtime)
    assert row.errors == errors
    message = await stored.message(runtime, wamid)
    assert (message.status, message.errors) == ("failed", errors)


async def test_status_for_a_username_recipient_keeps_the_user_id(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    wamid = await sent_message(runtime)
    report = p.status(
        wamid, "delivered", recipient_id=None, recipient_user_id="US.13491208655302741918"
    )
    await p.deliver(client, p.status_update(report))
    (row,) = await stored.statuses(runtime)
    assert row.recipient_id == "US.13491208655302741918"


async def test_status_before_its_message_is_kept(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    wamid = p.new_wamid()
    response = await p.deliver(client, p.status_update(p.status(wamid, "sent", timestamp=at(0))))
    assert response.status_code == 200
    assert [(s.message_id, s.status) for s in await stored.statuses(runtime)] == [(wamid, "sent")]
    assert await stored.messages(runtime) == []


async def test_unknown_status_is_kept_but_does_not_change_the_message(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    wamid = await sent_message(runtime, status="delivered")
    await p.deliver(client, p.status_update(p.status(wamid, "teleported")))
    assert [s.status for s in await stored.statuses(runtime)] == ["teleported"]
    assert (await stored.message(runtime, wamid)).status == "delivered"


async def test_status_does_not_change_an_inbound_message(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    text = p.text_message("hello")
    await p.deliver(client, p.inbound(text))
    await p.deliver(client, p.status_update(p.status(text["id"], "read")))
    assert (await stored.message(runtime, text["id"])).status == "received"


async def test_a_status_time_without_a_zone_is_utc_whatever_the_servers_zone(
    client: httpx.AsyncClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    try:
        wamid = await sent_message(runtime)
        late = p.status(wamid, "read")
        late["timestamp"] = "2026-03-02T09:00:05"
        await p.deliver(client, p.status_update(late))
    finally:
        monkeypatch.undo()
        time.tzset()
    row = await stored.message(runtime, wamid)
    assert (row.status, row.status_at) == ("read", at(5))
    (status,) = await stored.statuses(runtime, message_id=wamid)
    assert status.timestamp == at(5)

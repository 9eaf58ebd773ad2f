"""A client of the seed's Django app keeps working against messages Meta delivered."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from app.runtime import Runtime
from tests.support import payloads as p

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CUSTOMER = "919876543210"
OTHER = p.CUSTOMER_NUMBER


async def test_seed_client_reads_and_marks_read_what_the_webhook_stored(
    client: httpx.AsyncClient, api: httpx.AsyncClient, runtime: Runtime
) -> None:
    hello = p.text_message("Hi, I need help with my order", from_=CUSTOMER, timestamp=T0)
    photo = p.image_message(caption="the box", from_=CUSTOMER, timestamp=T0.replace(minute=1))
    elsewhere = p.text_message("unrelated", from_=OTHER, timestamp=T0.replace(minute=2))
    assert (await p.deliver(client, p.inbound(hello, photo, elsewhere))).status_code == 200

    messages = (await api.get("/api/whatsapp/messages/?phone=919876543210")).json()
    conversations = (await api.get("/api/whatsapp/conversations/")).json()
    marked = (
        await api.post("/api/whatsapp/mark-read/", json={"phone_number": "+91 98765 43210"})
    ).json()
    after = (await api.get("/api/whatsapp/conversations/", params={"unread": "true"})).json()

    assert messages["count"] == 2
    assert [m["message_id"] for m in messages["messages"]] == [photo["id"], hello["id"]]
    assert messages["messages"][1]["text_body"] == "Hi, I need help with my order"
    assert messages["messages"][0]["caption"] == "the box"
    assert conversations["count"] == 2
    mine = next(c for c in conversations["conversations"] if c["phone_number"] == CUSTOMER)
    assert (mine["message_count"], mine["unread_count"]) == (2, 2)
    assert marked == {"marked": 2, "conversations": [mine["id"]]}
    assert [c["phone_number"] for c in after["conversations"]] == [OTHER]

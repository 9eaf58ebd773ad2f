"""The webhook event log API: every signed delivery as received, filtered by rejections."""

from __future__ import annotations

import httpx

from tests.support import payloads as p
from tests.support.pages import follow_pages

EVENTS = "/api/whatsapp/webhook-events/"


async def _deliveries(client: httpx.AsyncClient) -> None:
    """Event 1 stored whole, 2 with a rejected item, 3 refused as no JSON, 4 stored whole."""
    odd = p.text_message("odd") | {"timestamp": {"not": "a time"}}
    for body in (
        p.inbound(p.text_message("fine")),
        p.inbound(p.text_message("fine too"), odd),
        b"\x00 not json",
        p.status_update(p.status(p.new_wamid(), "sent")),
    ):
        await p.deliver(client, body)


async def test_the_event_log_needs_the_api_key(client: httpx.AsyncClient) -> None:
    for url in (EVENTS, f"{EVENTS}1"):
        response = await client.get(url)
        assert response.status_code == 401
        assert response.json()["error"] == "unauthorized"


async def test_events_are_listed_newest_first_with_their_outcome(
    api: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    await _deliveries(client)
    response = await api.get(EVENTS)
    assert response.status_code == 200
    body = response.json()
    outcomes = [(e["id"], e["stored_items"], e["rejected_items"]) for e in body["events"]]
    assert outcomes == [(4, 1, 0), (3, 0, 1), (2, 1, 1), (1, 1, 0)]
    assert body["count"] == 4


async def test_the_rejected_filter_lists_only_deliveries_with_rejected_items(
    api: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    await _deliveries(client)
    rejected = await follow_pages(
        api, EVENTS, "events", "id", rejected="true", limit=1, resend_filters=False
    )
    assert rejected == [3, 2]
    stored_whole = await follow_pages(api, EVENTS, "events", "id", rejected="false", limit=1)
    assert stored_whole == [4, 1]


async def test_an_event_shows_its_body_as_received_and_each_rejection(
    api: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    await _deliveries(client)
    event = (await api.get(f"{EVENTS}2")).json()
    assert event["body"]["object"] == "whatsapp_business_account"
    assert event["body_text"] is None
    assert event["rejections"] == [
        {
            "path": "entry.0.changes.0.value.messages.1.timestamp",
            "reason": event["rejections"][0]["reason"],
        }
    ]


async def test_a_body_that_is_no_json_is_shown_as_text(
    api: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    await _deliveries(client)
    event = (await api.get(f"{EVENTS}3")).json()
    assert (event["body"], event["body_text"]) == (None, "\x00 not json")
    assert event["object"] is None
    assert event["rejections"][0]["path"] == "body"


async def test_an_unknown_event_is_a_404(api: httpx.AsyncClient) -> None:
    response = await api.get(f"{EVENTS}99")
    assert response.status_code == 404
    assert response.json()["error"] == "event_not_found"


async def test_a_cursor_sent_with_another_filter_is_a_422(
    api: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    await _deliveries(client)
    first = (await api.get(EVENTS, params={"rejected": "true", "limit": 1})).json()
    response = await api.get(EVENTS, params={"cursor": first["next_cursor"], "rejected": "false"})
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_cursor"


async def test_a_misspelt_filter_is_a_422(api: httpx.AsyncClient) -> None:
    response = await api.get(EVENTS, params={"rejectd": "true"})
    assert response.status_code == 422

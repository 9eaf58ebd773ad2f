"""GET /metrics: who may scrape it, and what each metric counts."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest
import respx
from sqlalchemy import update

from app.config import DEFAULT_API_VERSION
from app.models import Message
from app.outbound.graph import GraphAPIError
from app.runtime import Runtime
from tests.conftest import API_KEY, PHONE_NUMBER_ID
from tests.metrics.conftest import METRICS_TOKEN
from tests.support.clock import FixedClock
from tests.support.payloads import deliver, image_message, inbound, text_message

MESSAGES_URL = f"https://graph.facebook.com/{DEFAULT_API_VERSION}/{PHONE_NUMBER_ID}/messages"


async def _scrape(client: httpx.AsyncClient) -> str:
    response = await client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def _value(text: str, sample: str) -> float:
    """The value of one sample (`name{labels}`), 0 when it is not there."""
    found = re.search(rf"^{re.escape(sample)} (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


async def test_metrics_need_an_api_key_or_the_metrics_token(client: httpx.AsyncClient) -> None:
    assert (await client.get("/metrics")).status_code == 401
    wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "unauthorized"
    for token in (API_KEY, METRICS_TOKEN):
        answer = await client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200


async def test_the_metrics_token_opens_nothing_but_metrics(client: httpx.AsyncClient) -> None:
    listed = await client.get(
        "/api/whatsapp/messages/", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
    )
    assert listed.status_code == 401


async def test_a_delivery_is_counted_by_outcome_with_its_latency_and_items(
    client: httpx.AsyncClient,
) -> None:
    before = await _scrape(client)
    payload = inbound(text_message("hi"), {"from": "919876543210", "type": "text"})
    assert (await deliver(client, payload)).status_code == 200
    assert (await client.post("/api/whatsapp/webhook/", content=b"{}")).status_code == 403
    after = await _scrape(client)

    def grew(sample: str) -> float:
        return _value(after, sample) - _value(before, sample)

    assert grew('whatsapp_webhook_deliveries_total{outcome="stored"}') == 1
    assert grew('whatsapp_webhook_deliveries_total{outcome="forbidden"}') == 1
    assert grew("whatsapp_webhook_duration_seconds_count") == 2
    assert grew("whatsapp_webhook_new_messages_total") == 1
    assert grew("whatsapp_webhook_items_rejected_total") == 1


async def test_stored_messages_jobs_and_media_are_read_from_the_database(
    client: httpx.AsyncClient, runtime: Runtime, clock: FixedClock
) -> None:
    image = image_message("media-1")
    payload = inbound(text_message("one"), text_message("two"), image)
    assert (await deliver(client, payload)).status_code == 200
    clock.advance(timedelta(seconds=90))
    async with runtime.sessions() as session:
        await session.execute(
            update(Message)
            .where(Message.message_id == image["id"])
            .values(media_state="stored", media_size=1234)
        )
        await session.commit()
    text = await _scrape(client)
    assert _value(text, 'whatsapp_messages_stored{direction="in",type="text"}') == 2
    assert _value(text, 'whatsapp_messages_stored{direction="in",type="image"}') == 1
    assert _value(text, 'whatsapp_jobs{kind="media.download",state="queued"}') == 1
    assert _value(text, "whatsapp_jobs_oldest_due_age_seconds") == 90
    assert _value(text, "whatsapp_media_stored_bytes") == 1234
    assert _value(text, "whatsapp_media_stored_files") == 1


async def test_graph_api_calls_are_counted_by_endpoint_and_meta_error_code(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    before = await _scrape(client)
    with respx.mock(assert_all_called=True) as graph:
        graph.post(MESSAGES_URL).mock(
            side_effect=[
                httpx.Response(200, json={"messages": [{"id": "wamid.OK"}]}),
                httpx.Response(400, json={"error": {"message": "Re-engagement", "code": 131047}}),
            ]
        )
        await runtime.graph.send_message(PHONE_NUMBER_ID, {"to": "1", "type": "text"})
        with pytest.raises(GraphAPIError):
            await runtime.graph.send_message(PHONE_NUMBER_ID, {"to": "1", "type": "text"})
    after = await _scrape(client)
    for result in ("ok", "131047"):
        sample = f'whatsapp_graph_api_calls_total{{endpoint="messages",result="{result}"}}'
        assert _value(after, sample) - _value(before, sample) == 1

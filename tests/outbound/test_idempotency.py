"""Idempotency-Key: a retried send returns the first answer, and the message goes out once."""

from __future__ import annotations

import asyncio

import httpx
import respx

from app.runtime import Runtime
from tests.outbound.conftest import (
    MESSAGES_URL,
    SEND_URL,
    accepted,
    customer_wrote,
    hours,
    meta_error,
    outbound_messages,
)


def _text(conversation_id: int, body: str = "Your order has shipped") -> dict[str, object]:
    return {"type": "text", "conversation_id": conversation_id, "body": body}


async def test_repeated_request_returns_the_first_answer_without_a_second_send(
    api: httpx.AsyncClient, runtime: Runtime, meta: respx.Route
) -> None:
    conversation_id = await customer_wrote(runtime, hours(1))
    headers = {"Idempotency-Key": "order-1182-shipped"}

    first = await api.post(SEND_URL, json=_text(conversation_id), headers=headers)
    second = await api.post(SEND_URL, json=_text(conversation_id), headers=headers)

    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert meta.call_count == 1
    assert len(await outbound_messages(runtime)) == 1


async def test_same_body_written_differently_is_the_same_request(
    api: httpx.AsyncClient, runtime: Runtime, meta: respx.Route
) -> None:
    await customer_wrote(runtime, hours(1))
    headers = {"Idempotency-Key": "k-1"}

    first = await api.post(
        SEND_URL, json={"type": "text", "to": "919876543210", "body": "Hi"}, headers=headers
    )
    second = await api.post(
        SEND_URL, json={"body": "Hi", "to": "+91 98765 43210", "type": "text"}, headers=headers
    )

    assert second.status_code == 201
    assert second.json() == first.json()
    assert meta.call_count == 1


async def test_same_key_with_a_different_body_is_422_and_sends_nothing(
    api: httpx.AsyncClient, runtime: Runtime, meta: respx.Route
) -> None:
    conversation_id = await customer_wrote(runtime, hours(1))
    headers = {"Idempotency-Key": "k-2"}
    await api.post(SEND_URL, json=_text(conversation_id, "first"), headers=headers)

    response = await api.post(SEND_URL, json=_text(conversation_id, "second"), headers=headers)

    assert response.status_code == 422
    assert response.json()["error"] == "idempotency_key_reused"
    assert meta.call_count == 1


async def test_concurrent_requests_with_one_key_send_once(
    api: httpx.AsyncClient, runtime: Runtime, graph: respx.MockRouter
) -> None:
    conversation_id = await customer_wrote(runtime, hours(1))

    async def slow_meta(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.3)
        return accepted({"to": "919876543210"})

    route = graph.post(MESSAGES_URL).mock(side_effect=slow_meta)
    headers = {"Idempotency-Key": "k-concurrent"}

    responses = await asyncio.gather(
        *(api.post(SEND_URL, json=_text(conversation_id), headers=headers) for _ in range(5))
    )

    assert route.call_count == 1
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) >= 1
    assert set(statuses) <= {201, 409}
    for response in responses:
        if response.status_code == 409:
            assert response.json()["error"] == "idempotency_key_in_progress"
    assert len(await outbound_messages(runtime)) == 1
    retried = await api.post(SEND_URL, json=_text(conversation_id), headers=headers)
    assert retried.status_code == 201
    assert route.call_count == 1


async def test_metas_refusal_is_replayed_under_the_key_without_a_second_send(
    api: httpx.AsyncClient, runtime: Runtime, graph: respx.MockRouter
) -> None:
    conversation_id = await customer_wrote(runtime, hours(1))
    route = graph.post(MESSAGES_URL).mock(
        return_value=meta_error(400, 131026, "Message undeliverable")
    )
    headers = {"Idempotency-Key": "k-refused"}

    first = await api.post(SEND_URL, json=_text(conversation_id), headers=headers)
    second = await api.post(SEND_URL, json=_text(conversation_id), headers=headers)

    assert first.status_code == second.status_code == 422
    assert second.json() == first.json()
    assert route.call_count == 1


async def test_request_refused_before_calling_meta_leaves_the_key_unused(
    api: httpx.AsyncClient, runtime: Runtime, meta: respx.Route
) -> None:
    headers = {"Idempotency-Key": "k-window"}
    refused = await api.post(
        SEND_URL, json={"type": "text", "to": "919876543210", "body": "Hi"}, headers=headers
    )
    assert refused.status_code == 409
    await customer_wrote(runtime, hours(1))

    retried = await api.post(
        SEND_URL, json={"type": "text", "to": "919876543210", "body": "Hi"}, headers=headers
    )

    assert retried.status_code == 201
    assert meta.call_count == 1


async def test_requests_without_a_key_are_each_sent(
    api: httpx.AsyncClient, runtime: Runtime, meta: respx.Route
) -> None:
    conversation_id = await customer_wrote(runtime, hours(1))

    await api.post(SEND_URL, json=_text(conversation_id))
    await api.post(SEND_URL, json=_text(conversation_id))

    assert meta.call_count == 2


async def test_overlong_key_is_422(api: httpx.AsyncClient, meta: respx.Route) -> None:
    response = await api.post(
        SEND_URL,
        json={"type": "template", "to": "919876543210", "name": "hello", "language": "en"},
        headers={"Idempotency-Key": "k" * 201},
    )

    assert response.status_code == 422
    assert meta.call_count == 0


async def test_rate_limited_send_is_sent_when_retried_with_the_same_key(
    api: httpx.AsyncClient, runtime: Runtime, graph: respx.MockRouter
) -> None:
    conversation_id = await customer_wrote(runtime, hours(1))
    route = graph.post(MESSAGES_URL).mock(
        side_effect=[
            meta_error(400, 131056, "(Business Account, Consumer Account) pair rate limit hit"),
            accepted({"to": "919876543210"}),
        ]
    )
    headers = {"Idempotency-Key": "k-rate-limited"}

    limited = await api.post(SEND_URL, json=_text(conversation_id), headers=headers)
    retried = await api.post(SEND_URL, json=_text(conversation_id), headers=headers)

    assert limited.status_code == 429
    assert retried.status_code == 201
    assert "idempotent-replayed" not in retried.headers
    assert route.call_count == 2
    assert len(await outbound_messages(runtime)) == 1


async def test_send_that_never_reached_meta_is_sent_when_retried_with_the_same_key(
    api: httpx.AsyncClient, runtime: Runtime, graph: respx.MockRouter
) -> None:
    conversation_id = await customer_wrote(runtime, hours(1))
    route = graph.post(MESSAGES_URL).mock(
        side_effect=[httpx.ConnectError("connection refused"), accepted({"to": "919876543210"})]
    )
    headers = {"Idempotency-Key": "k-unreachable"}

    unreachable = await api.post(SEND_URL, json=_text(conversation_id), headers=headers)
    retried = await api.post(SEND_URL, json=_text(conversation_id), headers=headers)

    assert unreachable.status_code == 502
    assert retried.status_code == 201
    assert route.call_count == 2
    assert len(await outbound_messages(runtime)) == 1


async def test_send_that_may_have_reached_meta_is_not_sent_again_under_the_same_key(
    api: httpx.AsyncClient, runtime: Runtime, graph: respx.MockRouter
) -> None:
    conversation_id = await customer_wrote(runtime, hours(1))
    route = graph.post(MESSAGES_URL).mock(side_effect=httpx.ReadTimeout("timed out"))
    headers = {"Idempotency-Key": "k-timed-out"}

    first = await api.post(SEND_URL, json=_text(conversation_id), headers=headers)
    second = await api.post(SEND_URL, json=_text(conversation_id), headers=headers)

    assert first.status_code == second.status_code == 504
    assert second.headers["idempotent-replayed"] == "true"
    assert route.call_count == 1

"""Meta's errors come back as 4xx (the caller's to fix) or 502/504, with Meta's code and message."""

from __future__ import annotations

import httpx
import pytest
import respx

from app.runtime import Runtime
from tests.conftest import ACCESS_TOKEN
from tests.outbound.conftest import (
    MESSAGES_URL,
    SEND_URL,
    conversation,
    customer_wrote,
    hours,
    message_rows,
    meta_error,
)


@pytest.mark.parametrize(
    ("meta_status", "code", "message", "status", "error"),
    [
        (400, 131047, "Re-engagement message", 409, "meta_rejected"),
        (400, 100, "(#100) Invalid parameter", 422, "meta_rejected"),
        (400, 131026, "Message undeliverable", 422, "meta_rejected"),
        (400, 131050, "User stopped marketing messages", 422, "meta_rejected"),
        (400, 132001, "Template name does not exist in the translation", 422, "meta_rejected"),
        (400, 130429, "Rate limit hit", 429, "meta_rejected"),
        (
            400,
            131056,
            "(Business Account, Consumer Account) pair rate limit hit",
            429,
            "meta_rejected",
        ),
        (500, 131000, "Something went wrong", 502, "meta_unavailable"),
        (503, 131016, "Service unavailable", 502, "meta_unavailable"),
        (401, 190, "Error validating access token: Session has expired", 502, "meta_unavailable"),
    ],
    ids=lambda value: str(value),
)
async def test_meta_error_becomes_an_api_error_carrying_metas_code_and_message(
    api: httpx.AsyncClient,
    runtime: Runtime,
    graph: respx.MockRouter,
    meta_status: int,
    code: int,
    message: str,
    status: int,
    error: str,
) -> None:
    conversation_id = await customer_wrote(runtime, hours(1))
    graph.post(MESSAGES_URL).mock(return_value=meta_error(meta_status, code, message))

    response = await api.post(
        SEND_URL, json={"type": "text", "conversation_id": conversation_id, "body": "Hello"}
    )

    assert response.status_code == status
    body = response.json()
    assert body["error"] == error
    assert body["meta"]["code"] == code
    assert body["meta"]["message"] == message
    assert message in body["detail"]


async def test_failed_send_stores_nothing(
    api: httpx.AsyncClient, runtime: Runtime, graph: respx.MockRouter
) -> None:
    conversation_id = await customer_wrote(runtime, hours(1))
    before = await conversation(runtime, conversation_id)
    graph.post(MESSAGES_URL).mock(return_value=meta_error(400, 131026, "Message undeliverable"))

    response = await api.post(
        SEND_URL, json={"type": "text", "conversation_id": conversation_id, "body": "Hello"}
    )

    assert response.status_code == 422
    assert await message_rows(runtime) == 0
    assert (await conversation(runtime, conversation_id)).message_count == before.message_count


async def test_details_and_retry_hint_of_a_rate_limit_are_passed_on(
    api: httpx.AsyncClient, runtime: Runtime, graph: respx.MockRouter
) -> None:
    conversation_id = await customer_wrote(runtime, hours(1))
    graph.post(MESSAGES_URL).mock(
        return_value=meta_error(
            400,
            131056,
            "(#131056) (Business Account, Consumer Account) pair rate limit hit",
            error_data={"details": "Message failed to send because there were too many messages"},
        )
    )

    response = await api.post(
        SEND_URL, json={"type": "text", "conversation_id": conversation_id, "body": "Hello"}
    )

    assert response.status_code == 429
    body = response.json()
    assert body["meta"]["retryable"] is True
    assert body["meta"]["details"].startswith("Message failed to send")
    assert body["retry_after"] > 0


async def test_meta_timeout_is_a_504_json_error(
    api: httpx.AsyncClient, runtime: Runtime, graph: respx.MockRouter
) -> None:
    conversation_id = await customer_wrote(runtime, hours(1))
    graph.post(MESSAGES_URL).mock(side_effect=httpx.ReadTimeout("timed out"))

    response = await api.post(
        SEND_URL, json={"type": "text", "conversation_id": conversation_id, "body": "Hello"}
    )

    assert response.status_code == 504
    assert response.json()["error"] == "meta_timeout"
    assert "may or may not have been sent" in response.json()["detail"]
    assert await message_rows(runtime) == 0


async def test_unreachable_meta_is_a_502_json_error(
    api: httpx.AsyncClient, runtime: Runtime, graph: respx.MockRouter
) -> None:
    conversation_id = await customer_wrote(runtime, hours(1))
    graph.post(MESSAGES_URL).mock(side_effect=httpx.ConnectError("connection refused"))

    response = await api.post(
        SEND_URL, json={"type": "text", "conversation_id": conversation_id, "body": "Hello"}
    )

    assert response.status_code == 502
    assert response.json()["error"] == "meta_unavailable"


async def test_answer_that_is_not_metas_error_shape_is_a_502(
    api: httpx.AsyncClient, runtime: Runtime, graph: respx.MockRouter
) -> None:
    conversation_id = await customer_wrote(runtime, hours(1))
    graph.post(MESSAGES_URL).mock(return_value=httpx.Response(503, text="<html>busy</html>"))

    response = await api.post(
        SEND_URL, json={"type": "text", "conversation_id": conversation_id, "body": "Hello"}
    )

    assert response.status_code == 502
    assert response.json()["meta"]["code"] is None


async def test_error_bodies_never_hold_the_access_token(
    api: httpx.AsyncClient, runtime: Runtime, graph: respx.MockRouter
) -> None:
    conversation_id = await customer_wrote(runtime, hours(1))
    graph.post(MESSAGES_URL).mock(
        return_value=meta_error(401, 190, "Invalid OAuth access token - Cannot parse access token")
    )

    response = await api.post(
        SEND_URL, json={"type": "text", "conversation_id": conversation_id, "body": "Hello"}
    )

    assert response.status_code == 502
    assert ACCESS_TOKEN not in response.text


async def test_connect_timeout_is_a_502_since_nothing_reached_meta(
    api: httpx.AsyncClient, runtime: Runtime, graph: respx.MockRouter
) -> None:
    conversation_id = await customer_wrote(runtime, hours(1))
    graph.post(MESSAGES_URL).mock(side_effect=httpx.ConnectTimeout("connect timed out"))

    response = await api.post(
        SEND_URL, json={"type": "text", "conversation_id": conversation_id, "body": "Hello"}
    )

    assert response.status_code == 502
    assert response.json()["error"] == "meta_unavailable"

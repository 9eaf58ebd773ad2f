"""Meta's subscription handshake: GET /api/whatsapp/webhook/."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import VERIFY_TOKEN
from tests.support.payloads import WEBHOOK_URL


def handshake(mode: str = "subscribe", token: str = VERIFY_TOKEN) -> dict[str, str]:
    return {"hub.mode": mode, "hub.verify_token": token, "hub.challenge": "1158201444"}


@pytest.mark.parametrize("url", [WEBHOOK_URL, WEBHOOK_URL.rstrip("/")])
async def test_handshake_with_the_right_token_echoes_the_challenge_as_text(
    client: httpx.AsyncClient, url: str
) -> None:
    response = await client.get(url, params=handshake())
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == "1158201444"


async def test_handshake_with_a_wrong_token_is_forbidden(client: httpx.AsyncClient) -> None:
    response = await client.get(WEBHOOK_URL, params=handshake(token="not-the-token"))
    assert response.status_code == 403
    body = response.json()
    assert body["error"] == "verification_failed"
    assert "verify_token" in body["detail"]
    assert "not-the-token" not in response.text


async def test_handshake_with_another_mode_is_forbidden(client: httpx.AsyncClient) -> None:
    response = await client.get(WEBHOOK_URL, params=handshake(mode="unsubscribe"))
    assert response.status_code == 403
    assert response.json()["error"] == "verification_failed"


async def test_handshake_without_parameters_is_forbidden(client: httpx.AsyncClient) -> None:
    response = await client.get(WEBHOOK_URL)
    assert response.status_code == 403
    assert response.json()["error"] == "verification_failed"


async def test_handshake_without_a_challenge_is_forbidden(client: httpx.AsyncClient) -> None:
    params = handshake()
    del params["hub.challenge"]
    response = await client.get(WEBHOOK_URL, params=params)
    assert response.status_code == 403

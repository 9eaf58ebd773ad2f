"""Only bodies signed by Meta (X-Hub-Signature-256) are processed; nothing else is stored."""

from __future__ import annotations

import httpx
import pytest

from app.runtime import Runtime
from tests.conftest import signed_headers
from tests.support.payloads import WEBHOOK_URL, deliver, encode, inbound, text_message
from tests.webhook import stored


async def test_correctly_signed_body_is_stored(client: httpx.AsyncClient, runtime: Runtime) -> None:
    response = await deliver(client, inbound(text_message("hello")))
    assert response.status_code == 200
    assert response.json()["status"] == "stored"
    assert len(await stored.messages(runtime)) == 1


async def test_bad_signature_stores_nothing(client: httpx.AsyncClient, runtime: Runtime) -> None:
    body = encode(inbound(text_message("forged")))
    response = await client.post(
        WEBHOOK_URL, content=body, headers=signed_headers(body, secret="not-the-app-secret")
    )
    assert response.status_code == 403
    assert response.json()["error"] == "invalid_signature"
    assert await stored.nothing_stored(runtime)


async def test_missing_signature_is_forbidden_and_stores_nothing(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    body = encode(inbound(text_message("unsigned")))
    response = await client.post(
        WEBHOOK_URL, content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 403
    assert "missing X-Hub-Signature-256" in response.json()["detail"]
    assert await stored.nothing_stored(runtime)


async def test_signature_over_a_different_body_is_forbidden(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    signed = encode(inbound(text_message("what Meta signed")))
    tampered = encode(inbound(text_message("what arrived")))
    response = await client.post(WEBHOOK_URL, content=tampered, headers=signed_headers(signed))
    assert response.status_code == 403
    assert await stored.nothing_stored(runtime)


async def test_signature_of_the_reformatted_json_is_forbidden(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    # The signature covers the exact bytes, not the JSON they mean.
    payload = inbound(text_message("hello"))
    body = encode(payload)
    spaced = body.replace(b":", b": ")
    response = await client.post(WEBHOOK_URL, content=spaced, headers=signed_headers(body))
    assert response.status_code == 403
    assert await stored.nothing_stored(runtime)


@pytest.mark.parametrize("header", ["", "sha1=abc", "deadbeef", "sha256="])
async def test_malformed_signature_header_is_forbidden(
    client: httpx.AsyncClient, runtime: Runtime, header: str
) -> None:
    body = encode(inbound(text_message("hello")))
    response = await client.post(
        WEBHOOK_URL,
        content=body,
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": header},
    )
    assert response.status_code == 403
    assert response.json()["error"] == "invalid_signature"
    assert await stored.nothing_stored(runtime)


async def test_signature_is_checked_before_the_body_is_parsed(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    response = await client.post(
        WEBHOOK_URL,
        content=b"{not json",
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": "sha256=00"},
    )
    assert response.status_code == 403

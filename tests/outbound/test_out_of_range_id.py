"""A send to a conversation id beyond any the database can hold is a 422."""

from __future__ import annotations

import httpx


async def test_send_to_a_conversation_beyond_any_id_is_a_422(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/api/whatsapp/messages/", json={"type": "text", "conversation_id": 2**63, "body": "Hi"}
    )
    assert response.status_code == 422
    assert "conversation_id" in response.json()["detail"]

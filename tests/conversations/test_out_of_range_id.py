"""A conversation id beyond any the database can hold is a 422, not a server error."""

from __future__ import annotations

import httpx
import pytest

TOO_BIG_ID = 2**63


@pytest.mark.parametrize("method", ["GET", "PATCH"])
async def test_conversation_id_beyond_any_row_is_a_422(api: httpx.AsyncClient, method: str) -> None:
    response = await api.request(
        method, f"/api/whatsapp/conversations/{TOO_BIG_ID}", json={"notes": "vip"}
    )
    assert response.status_code == 422
    assert "path.conversation_id" in response.json()["detail"]


async def test_unknown_query_parameter_is_a_422_naming_it(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/whatsapp/conversations/", params={"unred": "true"})
    assert response.status_code == 422
    assert "query.unred" in response.json()["detail"]


async def test_mark_read_of_a_conversation_beyond_any_id_is_a_422(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/whatsapp/mark-read/", json={"conversation_id": TOO_BIG_ID})
    assert response.status_code == 422
    assert "body.conversation_id" in response.json()["detail"]

"""Admin lists refuse a NUL or an over-long search, and any NUL in a query, with a 4xx."""

from __future__ import annotations

import httpx
import pytest

from app.admin.base import MAX_SEARCH_LENGTH

LISTS = ["conversation", "message", "message-status-update", "job", "webhook-event"]
SEARCHABLE = ["conversation", "message", "message-status-update", "webhook-event"]


@pytest.mark.parametrize("identity", LISTS)
async def test_a_nul_in_a_search_or_filter_is_422(admin: httpx.AsyncClient, identity: str) -> None:
    for params in ({"search": "a\x00b"}, {"page": "\x00"}, {"state": "\x00"}):
        response = await admin.get(f"/admin/{identity}/list", params=params)
        assert response.status_code == 422, (params, response.text)
        assert "NUL" in response.json()["detail"]


@pytest.mark.parametrize("identity", SEARCHABLE)
async def test_a_search_over_the_limit_is_400(admin: httpx.AsyncClient, identity: str) -> None:
    response = await admin.get(
        f"/admin/{identity}/list", params={"search": "x" * (MAX_SEARCH_LENGTH + 1)}
    )
    assert response.status_code == 400
    assert f"longer than {MAX_SEARCH_LENGTH}" in response.text


@pytest.mark.parametrize("identity", SEARCHABLE)
async def test_a_search_at_the_limit_is_answered(admin: httpx.AsyncClient, identity: str) -> None:
    response = await admin.get(
        f"/admin/{identity}/list", params={"search": "%_" * (MAX_SEARCH_LENGTH // 2)}
    )
    assert response.status_code == 200


async def test_a_nul_in_a_record_path_is_422(admin: httpx.AsyncClient) -> None:
    response = await admin.get("/admin/message/details/1%00")
    assert response.status_code == 422

"""A job id beyond any the database can hold is a 422, not a server error."""

from __future__ import annotations

import httpx
import pytest

TOO_BIG_ID = 2**63


@pytest.mark.parametrize(("method", "suffix"), [("GET", ""), ("POST", "/retry")])
async def test_job_id_beyond_any_row_is_a_422(
    api: httpx.AsyncClient, method: str, suffix: str
) -> None:
    response = await api.request(method, f"/api/whatsapp/jobs/{TOO_BIG_ID}{suffix}")
    assert response.status_code == 422
    assert "path.job_id" in response.json()["detail"]


async def test_unknown_query_parameter_is_a_422_naming_it(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/whatsapp/jobs/", params={"sate": "dead"})
    assert response.status_code == 422
    assert "query.sate" in response.json()["detail"]

"""Every query parameter of the API refuses a NUL and over-long input with a 4xx, never a 500."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from app.config import Settings
from app.main import create_app
from app.middleware import MAX_QUERY_BYTES


def _query_parameters() -> list[tuple[str, str]]:
    """(path, parameter) of every GET operation's query parameters, from the OpenAPI."""
    app = create_app(Settings(_env_file=None, database_url="sqlite+aiosqlite:///:memory:"))
    spec: dict[str, Any] = app.openapi()
    found = []
    for path, operations in spec["paths"].items():
        for parameter in operations.get("get", {}).get("parameters", []):
            if parameter["in"] == "query":
                found.append((path, parameter["name"]))
    return found


QUERY_PARAMETERS = _query_parameters()


def _url(path: str) -> str:
    """The path with each of its parameters set to a plausible value."""
    return re.sub(r"\{\w+\}", "1", path.replace("{message_id}", "wamid.X"))


def test_the_api_has_query_parameters_to_check() -> None:
    assert len(QUERY_PARAMETERS) >= 10


@pytest.mark.parametrize(("path", "name"), QUERY_PARAMETERS)
async def test_a_nul_in_any_query_parameter_is_422(
    api: httpx.AsyncClient, path: str, name: str
) -> None:
    response = await api.get(_url(path), params={name: "a\x00b"})
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "validation_error"
    assert "NUL" in response.json()["detail"]


@pytest.mark.parametrize(("path", "name"), QUERY_PARAMETERS)
async def test_an_over_long_query_parameter_is_a_4xx(
    api: httpx.AsyncClient, path: str, name: str
) -> None:
    response = await api.get(_url(path), params={name: "9" * 5000})
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["error"]


async def test_a_query_string_over_the_limit_is_422(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/whatsapp/messages/", params={"q": "x" * MAX_QUERY_BYTES})
    assert response.status_code == 422
    assert "longer than the limit" in response.json()["detail"]


async def test_a_nul_in_the_path_is_422(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/whatsapp/messages/wamid.A%00B")
    assert response.status_code == 422
    assert response.json()["error"] == "validation_error"

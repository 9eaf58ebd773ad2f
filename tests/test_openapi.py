"""The OpenAPI document: a newcomer can authorize in /docs and try every API route."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.main import create_app
from tests.conftest import make_settings

API_PREFIX = "/api/whatsapp/"
WEBHOOK = "/api/whatsapp/webhook/"
HTTP_METHODS = {"get", "post", "put", "patch", "delete"}

# The read API: (method, path) of each route, and the errors each documents besides 401.
READ_API = {
    ("get", "/api/whatsapp/messages/"): {"422"},
    ("get", "/api/whatsapp/messages/{message_id}"): {"404", "422"},
    ("patch", "/api/whatsapp/messages/{message_id}"): {"404", "422"},
    ("post", "/api/whatsapp/mark-read/"): {"404", "422"},
    ("get", "/api/whatsapp/conversations/"): {"422"},
    ("get", "/api/whatsapp/conversations/{conversation_id}"): {"404", "422"},
    ("patch", "/api/whatsapp/conversations/{conversation_id}"): {"404", "422"},
}


@pytest.fixture(scope="module")
async def openapi(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[dict[str, Any]]:
    """The app's OpenAPI document, as served at /openapi.json (no database is touched)."""
    tmp_path = tmp_path_factory.mktemp("openapi")
    app = create_app(make_settings(f"sqlite+aiosqlite:///{tmp_path}/docs.db", tmp_path))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.get("/openapi.json")
    await app.state.runtime.close()
    assert response.status_code == 200
    yield response.json()


def operations(openapi: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method, path): operation
        for path, item in openapi["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    }


def resolve(openapi: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    resolved: dict[str, Any] = openapi["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return resolved


def test_api_key_scheme_is_http_bearer(openapi: dict[str, Any]) -> None:
    scheme = openapi["components"]["securitySchemes"]["ApiKey"]

    assert scheme["type"] == "http"
    assert scheme["scheme"].lower() == "bearer"


def test_every_api_route_but_the_webhook_requires_the_api_key(openapi: dict[str, Any]) -> None:
    api_routes = {
        key: op
        for key, op in operations(openapi).items()
        if key[1].startswith(API_PREFIX) and key[1] != WEBHOOK
    }

    assert set(READ_API) <= set(api_routes)
    unsecured = [
        key for key, op in api_routes.items() if {"ApiKey": []} not in op.get("security", [])
    ]
    assert unsecured == []


def test_webhook_needs_no_api_key(openapi: dict[str, Any]) -> None:
    webhook_operations = [op for (_, path), op in operations(openapi).items() if path == WEBHOOK]

    assert all("security" not in op for op in webhook_operations)


@pytest.mark.parametrize("route", sorted(READ_API))
def test_read_api_route_is_documented_with_summary_model_example_and_errors(
    openapi: dict[str, Any], route: tuple[str, str]
) -> None:
    operation = operations(openapi)[route]

    assert operation["summary"]
    assert operation["description"]
    ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert "examples" in resolve(openapi, ok) or any(
        "examples" in field for field in resolve(openapi, ok)["properties"].values()
    )
    errors = set(operation["responses"]) - {"200"}
    assert errors == {"401"} | READ_API[route]
    for code in errors:
        error = operation["responses"][code]["content"]["application/json"]["schema"]
        assert resolve(openapi, error)["properties"].keys() >= {"error", "detail"}


@pytest.mark.parametrize(
    "route",
    [
        ("patch", "/api/whatsapp/messages/{message_id}"),
        ("post", "/api/whatsapp/mark-read/"),
        ("patch", "/api/whatsapp/conversations/{conversation_id}"),
    ],
)
def test_request_bodies_carry_examples(openapi: dict[str, Any], route: tuple[str, str]) -> None:
    body = operations(openapi)[route]["requestBody"]["content"]["application/json"]["schema"]

    assert resolve(openapi, body)["examples"]

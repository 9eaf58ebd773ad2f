"""Bad input gets a clear error (invariant 6), across the whole API, by fuzzing its schema.

Schemathesis generates requests, valid and invalid, from the service's own OpenAPI
document for every operation under /api/whatsapp/, sent with the API key to the app on
both backends (the Graph API is a local fake, so sends never leave the machine). Every
answer must be a documented one: no 5xx, every 4xx a JSON `{"error", "detail"}`, and
bodies, statuses and content types as the schema says. The webhook needs a signature,
so it is fuzzed on its own: any signed JSON gets 200 or 400, any handshake 200 or 403
(422 for a NUL, which no query may hold).

Runs are bounded and derandomized, so the suite stays fast and CI sees the same cases.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

# Imported here, while the test module is collected, and not lazily by from_dict inside a
# running test: pytest rewrites schemathesis' modules on import, and CPython 3.11.7's
# ast.parse can fail deep in a test's stack ("AST constructor recursion depth mismatch").
from schemathesis.specs.openapi import schemas as _openapi_schemas  # noqa: F401
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import func, select

from app.config import Settings
from app.models import WebhookEvent
from app.runtime import Runtime
from tests.conftest import API_KEY, make_settings, signed_headers
from tests.support.databases import TestDatabase
from tests.support.fake_graph import FakeGraph
from tests.support.payloads import (
    WEBHOOK_URL,
    change,
    deliver,
    entry,
    inbound,
    messages_value,
    status,
    text_message,
    webhook,
)

pytestmark = pytest.mark.fuzz

T = TypeVar("T")

API_PATHS = r"^/api/whatsapp/(?!webhook)"
AUTHORIZED = {"Authorization": f"Bearer {API_KEY}"}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
FUZZ = hypothesis_settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture
def settings(database: TestDatabase, tmp_path: Path, fake_graph: FakeGraph) -> Settings:
    """The test settings, with the Graph API pointed at the local fake."""
    return make_settings(
        database.url,
        tmp_path,
        graph_api_base_url=fake_graph.base_url,
        whatsapp_api_version=fake_graph.version,
    )


@pytest.fixture
async def seeded(client: httpx.AsyncClient) -> None:
    """A conversation with one inbound message, so that reads find something to answer."""
    response = await deliver(client, inbound(text_message("Is my order on its way?")))
    assert response.status_code == 200


def on_loop(loop: asyncio.AbstractEventLoop) -> Callable[[Awaitable[T]], T]:
    """Run coroutines on the test's event loop from Hypothesis' worker thread."""

    def run(awaitable: Awaitable[T]) -> T:
        async def wrapped() -> T:
            return await awaitable

        return asyncio.run_coroutine_threadsafe(wrapped(), loop).result()

    return run


async def send_case(client: httpx.AsyncClient, case: schemathesis.Case) -> httpx.Response:
    """Send a generated case in-process, encoded exactly as schemathesis would send it."""
    kwargs = case.as_transport_kwargs(base_url=str(client.base_url))
    kwargs.pop("auth", None)
    prepared = requests.Request(**kwargs).prepare()
    body = prepared.body.encode() if isinstance(prepared.body, str) else prepared.body
    return await client.request(
        str(prepared.method),
        str(prepared.url),
        headers=dict(prepared.headers),
        content=body,
    )


def assert_error_body(response: httpx.Response, what: str) -> None:
    """A 4xx answer is JSON `{"error", "detail"}` with strings that say what is wrong."""
    assert response.headers.get("content-type", "").startswith("application/json"), (
        f"{what}: {response.status_code} is not JSON: {response.text[:200]!r}"
    )
    error = response.json()
    assert isinstance(error, dict), f"{what}: error body is not an object: {error!r}"
    assert isinstance(error.get("error"), str), f"{what}: no `error` code: {error!r}"
    assert isinstance(error.get("detail"), str), f"{what}: no `detail`: {error!r}"
    assert error["detail"], f"{what}: empty `detail`: {error!r}"


async def test_every_api_operation_answers_as_documented(
    app: Any, client: httpx.AsyncClient, seeded: None
) -> None:
    schema = schemathesis.openapi.from_dict(app.openapi()).include(path_regex=API_PATHS)
    cases = st.one_of(
        schema.as_strategy(GenerationMode.POSITIVE, headers=AUTHORIZED),
        schema.as_strategy(GenerationMode.NEGATIVE, headers=AUTHORIZED),
    )
    run = on_loop(asyncio.get_running_loop())

    @FUZZ
    @given(case=cases)
    def check(case: schemathesis.Case) -> None:
        response = run(send_case(client, case))
        what = f"{case.method} {case.formatted_path}"
        assert response.status_code < 500, f"{what}: {response.status_code} {response.text}"
        if 400 <= response.status_code < 500:
            assert_error_body(response, what)
        case.validate_response(response, checks=CHECKS)

    await asyncio.to_thread(check)


# Any JSON value: what a broken or hostile sender could sign.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def either(real: Any) -> st.SearchStrategy[Any]:
    """The real value of a field most of the time, else any JSON in its place."""
    return st.one_of(st.just(real), st.just(real), json_values)


def fields_of(real: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """The object with each field kept, dropped, or replaced by any JSON."""
    return st.fixed_dictionaries({}, optional={key: either(value) for key, value in real.items()})


def deliveries() -> st.SearchStrategy[Any]:
    """Bodies shaped like a delivery whose parts, at every depth, may be anything."""
    message = text_message("Where is my parcel?")
    receipt = status("wamid.HBgLFUZZ", "delivered")
    value = st.builds(
        lambda fields, messages, statuses: {**fields, "messages": messages, "statuses": statuses},
        fields_of(messages_value([message])),
        either([message]) | st.lists(fields_of(message), max_size=2),
        either([receipt]) | st.lists(fields_of(receipt), max_size=2),
    )
    changes = st.lists(
        st.builds(lambda v, f: {**change(v), "field": f}, value, either("messages")), max_size=2
    )
    entries = st.lists(st.builds(lambda c: {**entry(), "changes": c}, changes), max_size=2)
    bodies = st.builds(lambda e: {**webhook(), "entry": e}, entries)
    return st.one_of(bodies, st.builds(lambda b: b, fields_of(webhook(entry()))), json_values)


async def stored_events(runtime: Runtime) -> int:
    """How many deliveries the raw event log holds."""
    async with runtime.sessions() as session:
        return int((await session.execute(select(func.count(WebhookEvent.id)))).scalar_one())


async def test_any_signed_json_delivery_is_logged_and_stored_or_refused_with_a_400(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    run = on_loop(asyncio.get_running_loop())

    @FUZZ
    @given(payload=deliveries())
    def check(payload: Any) -> None:
        body = json.dumps(payload).encode()
        before = run(stored_events(runtime))
        response = run(client.post(WEBHOOK_URL, content=body, headers=signed_headers(body)))
        assert response.status_code in (200, 400), f"{response.status_code}: {response.text}"
        if response.status_code == 400:
            assert_error_body(response, "webhook POST")
        assert run(stored_events(runtime)) == before + 1, "a signed body was not logged once"

    await asyncio.to_thread(check)


async def test_any_handshake_query_is_answered_200_or_403_or_422_for_a_nul(
    client: httpx.AsyncClient,
) -> None:
    run = on_loop(asyncio.get_running_loop())
    hub = st.sampled_from(["hub.mode", "hub.verify_token", "hub.challenge"])
    queries = st.lists(st.tuples(hub | st.text(max_size=12), st.text(max_size=40)), max_size=5)

    @FUZZ
    @given(query=queries)
    def check(query: list[tuple[str, str]]) -> None:
        response = run(client.get(WEBHOOK_URL, params=query))
        # A NUL anywhere in a query is refused before any route (422), the handshake's too.
        nul = any("\x00" in name + value for name, value in query)
        expected = (422,) if nul else (200, 403)
        assert response.status_code in expected, f"{response.status_code}: {response.text}"
        if response.status_code != 200:
            assert_error_body(response, "webhook GET")

    await asyncio.to_thread(check)

"""The Graph API client: Meta's errors typed and classified, timeouts, where the token goes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from app.outbound.graph import PAIR_RATE_LIMIT_WAIT_SECONDS, GraphAPIError, GraphClient
from tests.conftest import ACCESS_TOKEN, PHONE_NUMBER_ID, make_settings
from tests.support.fake_graph import FakeGraph, meta_error_body

GRAPH = "https://graph.facebook.com/v25.0"
MESSAGES_URL = f"{GRAPH}/{PHONE_NUMBER_ID}/messages"
TEXT = {"to": "919876543210", "type": "text", "text": {"body": "Hello"}}


@asynccontextmanager
async def _client(tmp_path: Path, **overrides: Any) -> AsyncIterator[GraphClient]:
    """A GraphClient for settings with `overrides`, closed afterwards."""
    settings = make_settings("sqlite+aiosqlite:///:memory:", tmp_path, **overrides)
    async with GraphClient.create_http_client(settings) as http:
        yield GraphClient(http, settings)


@pytest.fixture
async def graph(tmp_path: Path) -> AsyncIterator[GraphClient]:
    async with _client(tmp_path, whatsapp_api_version="v25.0") as client:
        yield client


async def _send_failing(
    graph: GraphClient, respx_mock: respx.MockRouter, response: httpx.Response
) -> GraphAPIError:
    respx_mock.post(MESSAGES_URL).mock(return_value=response)
    with pytest.raises(GraphAPIError) as caught:
        await graph.send_message(PHONE_NUMBER_ID, TEXT)
    return caught.value


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (1, 500),  # API unknown
        (2, 503),  # API service temporarily unavailable
        (4, 400),  # application request limit reached
        (80007, 400),  # WhatsApp Business Account rate limit
        (130429, 400),  # throughput (Cloud API) rate limit
        (131000, 500),  # something went wrong
        (131016, 503),  # service unavailable
        (131056, 400),  # pair rate limit: too many messages to the same recipient
        (131057, 400),  # account in maintenance mode
    ],
)
async def test_rate_capacity_and_transient_errors_are_retryable(
    graph: GraphClient, respx_mock: respx.MockRouter, code: int, status: int
) -> None:
    body = meta_error_body(code, f"(#{code}) a failure", details="what happened")
    error = await _send_failing(graph, respx_mock, httpx.Response(status, json=body))
    assert error.code == code
    assert error.http_status == status
    assert error.retryable is True


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (131047, 400),  # re-engagement: more than 24 hours since the customer wrote
        (131026, 400),  # message undeliverable (not a WhatsApp user, old app)
        (131048, 400),  # spam rate limit hit
        (131050, 400),  # the user stopped marketing messages
        (132000, 400),  # template parameter count mismatch
        (132001, 404),  # template does not exist
        (132015, 400),  # template paused
        (100, 400),  # invalid parameter
        (190, 401),  # access token expired
    ],
)
async def test_errors_that_a_retry_cannot_fix_are_not_retryable(
    graph: GraphClient, respx_mock: respx.MockRouter, code: int, status: int
) -> None:
    body = meta_error_body(code, f"(#{code}) a failure")
    error = await _send_failing(graph, respx_mock, httpx.Response(status, json=body))
    assert error.code == code
    assert error.retryable is False


async def test_error_carries_code_subcode_title_details_and_trace(
    graph: GraphClient, respx_mock: respx.MockRouter
) -> None:
    body = meta_error_body(
        131047,
        "(#131047) Re-engagement message",
        details="Message failed to send because more than 24 hours have passed",
        subcode=2494010,
    )
    error = await _send_failing(graph, respx_mock, httpx.Response(400, json=body))
    assert error.code == 131047
    assert error.subcode == 2494010
    assert error.title == "OAuthException"
    assert error.message == "(#131047) Re-engagement message"
    assert error.details == "Message failed to send because more than 24 hours have passed"
    assert error.fbtrace_id == "AbCdEfGhIjKlMnOpQrStUvW"
    assert error.as_dict()["code"] == 131047
    assert "131047" in str(error)


async def test_access_token_that_meta_echoes_in_its_error_is_blanked(
    graph: GraphClient, respx_mock: respx.MockRouter
) -> None:
    body = meta_error_body(
        190,
        f"Malformed access token {ACCESS_TOKEN}",
        details=f"token {ACCESS_TOKEN} cannot be parsed",
    )
    error = await _send_failing(graph, respx_mock, httpx.Response(401, json=body))
    assert error.code == 190
    assert ACCESS_TOKEN not in str(error)
    assert ACCESS_TOKEN not in repr(error.as_dict())
    assert error.message == "Malformed access token ***"


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_server_errors_without_a_meta_body_are_retryable(
    graph: GraphClient, respx_mock: respx.MockRouter, status: int
) -> None:
    error = await _send_failing(graph, respx_mock, httpx.Response(status, text="Bad gateway"))
    assert error.code is None
    assert error.http_status == status
    assert error.retryable is True


async def test_unknown_code_with_a_server_error_is_retryable(
    graph: GraphClient, respx_mock: respx.MockRouter
) -> None:
    body = meta_error_body(999999, "something new")
    error = await _send_failing(graph, respx_mock, httpx.Response(500, json=body))
    assert error.retryable is True


async def test_unknown_code_with_a_client_error_is_not_retryable(
    graph: GraphClient, respx_mock: respx.MockRouter
) -> None:
    body = meta_error_body(999999, "something new")
    error = await _send_failing(graph, respx_mock, httpx.Response(400, json=body))
    assert error.retryable is False


async def test_code_sent_as_a_string_is_understood(
    graph: GraphClient, respx_mock: respx.MockRouter
) -> None:
    body = {"error": {"message": "pair rate limit hit", "code": "131056"}}
    error = await _send_failing(graph, respx_mock, httpx.Response(400, json=body))
    assert error.code == 131056
    assert error.retryable is True


@pytest.mark.parametrize(
    "exception", [httpx.ReadTimeout("read timed out"), httpx.ConnectTimeout("connect")]
)
async def test_timeout_is_retryable_and_says_so(
    graph: GraphClient, respx_mock: respx.MockRouter, exception: httpx.TimeoutException
) -> None:
    respx_mock.post(MESSAGES_URL).mock(side_effect=exception)
    with pytest.raises(GraphAPIError) as caught:
        await graph.send_message(PHONE_NUMBER_ID, TEXT)
    assert caught.value.retryable is True
    assert isinstance(caught.value.__cause__, httpx.TimeoutException)
    assert "timed out" in caught.value.message


async def test_connection_failure_is_retryable(
    graph: GraphClient, respx_mock: respx.MockRouter
) -> None:
    respx_mock.post(MESSAGES_URL).mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(GraphAPIError) as caught:
        await graph.send_message(PHONE_NUMBER_ID, TEXT)
    assert caught.value.retryable is True


async def test_retry_after_header_becomes_the_wait_hint(
    graph: GraphClient, respx_mock: respx.MockRouter
) -> None:
    body = meta_error_body(130429, "(#130429) Rate limit hit")
    response = httpx.Response(429, json=body, headers={"Retry-After": "30"})
    error = await _send_failing(graph, respx_mock, response)
    assert error.retryable is True
    assert error.retry_after == 30.0


async def test_pair_rate_limit_asks_for_a_pause_before_the_next_message(
    graph: GraphClient, respx_mock: respx.MockRouter
) -> None:
    body = meta_error_body(131056, "(#131056) (Business Account, Consumer Account) pair rate")
    error = await _send_failing(graph, respx_mock, httpx.Response(400, json=body))
    assert error.retry_after == PAIR_RATE_LIMIT_WAIT_SECONDS


async def test_other_errors_have_no_wait_hint(
    graph: GraphClient, respx_mock: respx.MockRouter
) -> None:
    body = meta_error_body(131000, "(#131000) Something went wrong")
    error = await _send_failing(graph, respx_mock, httpx.Response(500, json=body))
    assert error.retry_after is None


async def test_send_uses_the_configured_base_url_version_and_token(
    tmp_path: Path, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(f"https://graph.example.test/v99.0/{PHONE_NUMBER_ID}/messages").mock(
        return_value=httpx.Response(200, json={"messages": [{"id": "wamid.X"}]})
    )
    async with _client(
        tmp_path, graph_api_base_url="https://graph.example.test/", whatsapp_api_version="v99.0"
    ) as graph:
        answer = await graph.send_message(PHONE_NUMBER_ID, TEXT)
    assert answer == {"messages": [{"id": "wamid.X"}]}
    request = route.calls.last.request
    assert request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert request.read().startswith(b'{"messaging_product":"whatsapp"')


async def test_mark_read_posts_a_read_status(
    graph: GraphClient, respx_mock: respx.MockRouter
) -> None:
    route = respx_mock.post(MESSAGES_URL).mock(
        return_value=httpx.Response(200, json={"success": True})
    )
    assert await graph.mark_read(PHONE_NUMBER_ID, "wamid.IN1") == {"success": True}
    assert route.calls.last.request.read() == (
        b'{"messaging_product":"whatsapp","status":"read","message_id":"wamid.IN1"}'
    )


@pytest.mark.parametrize(
    "url",
    [
        "https://attacker.example.com/media",
        "https://facebook.com.attacker.example/media",
        "http://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1",
    ],
)
async def test_token_is_never_sent_to_a_host_that_is_not_meta(
    graph: GraphClient, respx_mock: respx.MockRouter, url: str
) -> None:
    route = respx_mock.get(url).mock(return_value=httpx.Response(200, content=b"x"))
    with pytest.raises(GraphAPIError) as caught:
        async with graph.stream_media(url):
            pass
    assert not route.called
    assert caught.value.retryable is False
    assert ACCESS_TOKEN not in str(caught.value)


async def test_token_is_sent_to_meta_media_hosts(
    graph: GraphClient, respx_mock: respx.MockRouter
) -> None:
    url = "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1"
    route = respx_mock.get(url).mock(return_value=httpx.Response(200, content=b"image"))
    async with graph.stream_media(url) as response:
        content = b"".join([chunk async for chunk in response.aiter_bytes()])
    assert content == b"image"
    assert route.calls.last.request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"


async def test_token_goes_to_the_configured_graph_origin_only(
    tmp_path: Path, respx_mock: respx.MockRouter
) -> None:
    same_origin = respx_mock.get("http://127.0.0.1:8123/file").mock(
        return_value=httpx.Response(200, content=b"ok")
    )
    other_port = respx_mock.get("http://127.0.0.1:9999/file").mock(
        return_value=httpx.Response(200, content=b"x")
    )
    async with _client(tmp_path, graph_api_base_url="http://127.0.0.1:8123") as graph:
        async with graph.stream_media("http://127.0.0.1:8123/file"):
            pass
        with pytest.raises(GraphAPIError):
            async with graph.stream_media("http://127.0.0.1:9999/file"):
                pass
    assert same_origin.calls.last.request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert not other_port.called


async def test_media_download_error_is_typed(
    graph: GraphClient, respx_mock: respx.MockRouter
) -> None:
    url = "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1"
    respx_mock.get(url).mock(return_value=httpx.Response(404, json=meta_error_body(100, "gone")))
    with pytest.raises(GraphAPIError) as caught:
        async with graph.stream_media(url):
            pass
    assert caught.value.code == 100
    assert caught.value.retryable is False


async def test_client_works_against_the_fake_graph_server(
    tmp_path: Path, fake_graph: FakeGraph
) -> None:
    media = fake_graph.add_media(b"\xff\xd8jpeg", "image/jpeg")
    async with _client(tmp_path, graph_api_base_url=fake_graph.base_url) as graph:
        info = await graph.get_media(media.media_id)
        async with graph.stream_media(info.url) as response:
            content = b"".join([chunk async for chunk in response.aiter_bytes()])
        sent = await graph.send_message(PHONE_NUMBER_ID, TEXT)
        uploaded = await graph.upload_media(PHONE_NUMBER_ID, "a.png", "image/png", b"png")
    assert (info.mime_type, info.sha256, info.file_size) == (
        "image/jpeg",
        media.sha256,
        len(media.content),
    )
    assert content == media.content
    assert sent["messages"][0]["id"].startswith("wamid.")
    assert fake_graph.media(uploaded) is not None
    assert fake_graph.sent_messages() == [{"messaging_product": "whatsapp", **TEXT}]

"""Input the database cannot take is refused with a 422 naming it, never a server error."""

from __future__ import annotations

import httpx
import pytest

from app.messages.service import LIST_NAME
from app.pagination import Cursor, encode_cursor
from app.runtime import Runtime
from tests.support.payloads import deliver, inbound, text_message
from tests.webhook import stored

TOO_BIG_ID = 2**63


async def test_unknown_query_parameter_is_a_422_naming_it(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/whatsapp/messages/", params={"drection": "in"})
    assert response.status_code == 422
    assert response.json()["error"] == "validation_error"
    assert "query.drection" in response.json()["detail"]


async def test_conversation_filter_beyond_any_id_is_a_422(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/whatsapp/messages/", params={"conversation": TOO_BIG_ID})
    assert response.status_code == 422
    assert "query.conversation" in response.json()["detail"]


@pytest.mark.parametrize(
    ("name", "moment"),
    [("since", "0001-01-01T00:00:00+14:00"), ("until", "9999-12-31T23:59-14:00")],
)
async def test_time_out_of_range_in_utc_is_a_422(
    api: httpx.AsyncClient, name: str, moment: str
) -> None:
    response = await api.get("/api/whatsapp/messages/", params={name: moment})
    assert response.status_code == 422
    assert f"query.{name}" in response.json()["detail"]
    assert "out of range" in response.json()["detail"]


async def test_time_without_offset_is_utc_beside_one_with_an_offset(
    api: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    await deliver(client, inbound(text_message("hello", timestamp=1_704_110_400)))  # 12:00 UTC
    response = await api.get(
        "/api/whatsapp/messages/",
        params={"since": "2024-01-01T11:00:00", "until": "2024-01-01T14:00:00+01:00"},
    )
    assert response.status_code == 200
    assert response.json()["count"] == 1


async def test_body_that_is_not_utf8_is_a_422_and_marks_nothing(
    api: httpx.AsyncClient, client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await deliver(client, inbound(text_message("unread")))
    response = await api.post(
        "/api/whatsapp/mark-read/",
        content=b'{"conversation_id": \xff\xfe}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json() == {
        "error": "validation_error",
        "detail": "body: JSON decode error: not valid UTF-8",
        "errors": [
            {"loc": ["body"], "msg": "JSON decode error: not valid UTF-8", "type": "json_invalid"}
        ],
    }
    (conversation,) = await stored.conversations(runtime)
    assert conversation.unread_count == 1


async def test_body_nested_too_deeply_to_parse_is_a_422(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/api/whatsapp/mark-read/",
        content=b"[" * 50_000 + b"]" * 50_000,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["detail"] == "body: JSON decode error: nested too deeply"


async def test_cursor_naming_an_id_beyond_any_row_is_refused(api: httpx.AsyncClient) -> None:
    forged = encode_cursor(LIST_NAME, Cursor(at=None, id=TOO_BIG_ID))
    response = await api.get("/api/whatsapp/messages/", params={"cursor": forged})
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_cursor"

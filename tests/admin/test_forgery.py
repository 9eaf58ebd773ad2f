"""Admin state changes need a page of the admin's own origin and the session's CSRF token;
sessions live server side, so logging out ends them for good."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.admin.auth import SESSION_COOKIE
from app.models import AdminSession, Message
from app.runtime import Runtime
from tests.admin.conftest import SAME_ORIGIN, log_in, message_pk
from tests.support.payloads import deliver, inbound, text_message


@pytest.fixture
async def message(client: httpx.AsyncClient, runtime: Runtime) -> int:
    """The admin id of a stored inbound message, still unread."""
    text = text_message("hello")
    assert (await deliver(client, inbound(text))).status_code == 200
    return await message_pk(runtime, text["id"])


async def _status(runtime: Runtime, pk: int) -> str:
    async with runtime.sessions() as session:
        found = await session.get(Message, pk)
    assert found is not None
    return found.status


async def test_a_change_without_the_csrf_token_is_refused_and_changes_nothing(
    admin: httpx.AsyncClient, runtime: Runtime, message: int
) -> None:
    response = await admin.post(
        f"/admin/message/action/mark-read?pks={message}", headers={"X-CSRF-Token": ""}
    )
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert await _status(runtime, message) == "received"


async def test_a_change_with_another_sessions_token_is_refused(
    app: Any, admin: httpx.AsyncClient, runtime: Runtime, message: int
) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
        assert (await log_in(other)).status_code == 302
        response = await other.post(
            f"/admin/message/action/mark-read?pks={message}",
            headers={**SAME_ORIGIN, "X-CSRF-Token": admin.headers["X-CSRF-Token"]},
        )
    assert response.status_code == 403
    assert await _status(runtime, message) == "received"


@pytest.mark.parametrize(
    "source",
    [
        {"Origin": "http://evil.testserver"},
        {"Origin": "null"},
        {"Origin": "", "Referer": "http://testserver.evil.example/admin/"},
    ],
)
async def test_a_change_from_another_origin_is_refused_even_with_the_token(
    admin: httpx.AsyncClient, runtime: Runtime, message: int, source: dict[str, str]
) -> None:
    response = await admin.post(f"/admin/message/action/mark-read?pks={message}", headers=source)
    assert response.status_code == 403
    assert await _status(runtime, message) == "received"


async def test_the_referer_stands_in_for_a_missing_origin(
    admin: httpx.AsyncClient, runtime: Runtime, message: int
) -> None:
    response = await admin.post(
        f"/admin/message/action/mark-read?pks={message}",
        headers={"Origin": "", "Referer": "http://testserver/admin/message/list"},
    )
    assert response.status_code == 303
    assert await _status(runtime, message) == "read"


async def test_the_token_is_accepted_as_a_form_field(
    admin: httpx.AsyncClient, runtime: Runtime, message: int
) -> None:
    token = admin.headers.pop("X-CSRF-Token")
    response = await admin.post(
        f"/admin/message/action/mark-read?pks={message}", data={"csrf_token": token}
    )
    assert response.status_code == 303
    assert await _status(runtime, message) == "read"


async def test_actions_and_logout_are_not_done_by_a_get(
    admin: httpx.AsyncClient, runtime: Runtime, message: int
) -> None:
    for path in (f"/admin/message/action/mark-read?pks={message}", "/admin/logout"):
        assert (await admin.get(path)).status_code == 405
    assert await _status(runtime, message) == "received"
    assert (await admin.get("/admin/message/list")).status_code == 200


async def test_a_login_posted_from_another_origin_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/admin/login",
        data={"username": "inbox-admin", "password": "whatever"},
        headers={"Origin": "http://evil.testserver"},
    )
    assert response.status_code == 403


async def test_a_copied_cookie_opens_nothing_after_logout(
    app: Any, admin: httpx.AsyncClient, runtime: Runtime
) -> None:
    copied = admin.cookies[SESSION_COOKIE]
    assert (await admin.post("/admin/logout")).status_code == 302

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", cookies={SESSION_COOKIE: copied}
    ) as thief:
        refused = await thief.get("/admin/message/list")
    assert refused.status_code == 302
    assert refused.headers["location"].endswith("/admin/login")
    async with runtime.sessions() as session:
        assert (await session.execute(select(AdminSession))).scalars().all() == []


async def test_the_cookie_holds_no_more_than_a_random_session_token(
    admin: httpx.AsyncClient, runtime: Runtime
) -> None:
    async with runtime.sessions() as session:
        [stored] = (await session.execute(select(AdminSession))).scalars().all()
    assert stored.username == "inbox-admin"
    assert len(stored.token_hash) == 64
    assert stored.token_hash not in admin.cookies[SESSION_COOKIE]


async def test_admin_pages_are_neither_framed_nor_cached(admin: httpx.AsyncClient) -> None:
    for path in ("/admin/message/list", "/admin/login"):
        response = await admin.get(path)
        assert response.headers["content-security-policy"] == "frame-ancestors 'none'"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["cache-control"] == "no-store"

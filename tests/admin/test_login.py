"""The admin login: every page and media file needs it; wrong passwords make you wait."""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest
from pydantic import SecretStr

from app.admin.auth import SESSION_COOKIE, AdminAuth, AdminConfigError
from app.admin.login_guard import LoginThrottle
from app.config import Settings
from app.main import create_app
from app.runtime import Runtime
from tests.admin.conftest import (
    ADMIN_PASSWORD,
    ADMIN_USERNAME,
    SAME_ORIGIN,
    TEST_HASHER,
    log_in,
    message_pk,
    store_media,
)
from tests.support.payloads import deliver, image_message, inbound, text_message

PAGES = [
    ("GET", "/admin/"),
    ("GET", "/admin/conversation/list"),
    ("GET", "/admin/message/list"),
    ("GET", "/admin/message-status-update/list"),
    ("GET", "/admin/job/list"),
    ("GET", "/admin/webhook-event/list"),
    ("GET", "/admin/message/details/{message}"),
    ("GET", "/admin/message/edit/{message}"),
    ("POST", "/admin/message/edit/{message}"),
    ("GET", "/admin/conversation/details/{conversation}"),
    ("GET", "/admin/conversation/edit/{conversation}"),
    ("GET", "/admin/conversation/thread/{conversation}"),
    ("POST", "/admin/conversation/thread/{conversation}/reply"),
    ("POST", "/admin/message/action/mark-read?pks={message}"),
    ("POST", "/admin/job/action/retry?pks=1"),
    ("GET", "/admin/message/media/{image}"),
]


@pytest.fixture
async def stored(client: httpx.AsyncClient, runtime: Runtime) -> dict[str, int]:
    """A conversation with a text and a stored image, and their admin ids."""
    text, image = text_message("hello"), image_message(caption="the receipt")
    assert (await deliver(client, inbound(text, image))).status_code == 200
    await store_media(runtime, image["id"], b"\x89PNG secret picture", "image/png")
    return {
        "message": await message_pk(runtime, text["id"]),
        "image": await message_pk(runtime, image["id"]),
        "conversation": 1,
    }


@pytest.mark.parametrize(("method", "path"), PAGES)
async def test_every_admin_page_and_media_file_needs_the_login(
    client: httpx.AsyncClient, stored: dict[str, int], method: str, path: str
) -> None:
    response = await client.request(
        method, path.format(**stored), data={"notes": "x"}, headers=SAME_ORIGIN
    )
    if method == "GET":
        assert response.status_code == 302
        assert response.headers["location"].endswith("/admin/login")
    else:
        # A change without a session has no CSRF token to show: refused before anything.
        assert response.status_code == 403
    assert b"secret picture" not in response.content
    assert b"hello" not in response.content


async def test_the_right_username_and_password_open_the_panel(
    client: httpx.AsyncClient,
) -> None:
    response = await log_in(client)
    assert response.status_code == 302
    assert (await client.get("/admin/message/list")).status_code == 200


async def test_the_session_cookie_is_signed_http_only_strict_and_scoped_to_the_admin(
    client: httpx.AsyncClient,
) -> None:
    response = await log_in(client)
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "path=/admin" in cookie
    assert "httponly" in cookie.lower()
    assert "samesite=strict" in cookie.lower()


async def test_a_forged_session_cookie_is_refused(client: httpx.AsyncClient) -> None:
    client.cookies.set(SESSION_COOKIE, "eyJhZG1pbiI6ICJpbmJveC1hZG1pbiJ9.forged.signature")
    response = await client.get("/admin/message/list")
    assert response.status_code == 302


@pytest.mark.parametrize(
    ("username", "password"),
    [(ADMIN_USERNAME, "wrong password"), ("someone-else", ADMIN_PASSWORD), ("", "")],
)
async def test_wrong_credentials_are_refused(
    client: httpx.AsyncClient, username: str, password: str
) -> None:
    response = await log_in(client, username, password)
    assert response.status_code == 400
    assert "Invalid credentials" in response.text
    assert (await client.get("/admin/message/list")).status_code == 302


async def test_after_a_wrong_password_even_the_right_one_must_wait(
    client: httpx.AsyncClient,
) -> None:
    await log_in(client, password="wrong password")
    response = await log_in(client)
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) >= 1
    assert "Too many failed logins" in response.text
    assert (await client.get("/admin/message/list")).status_code == 302


async def test_failures_from_an_address_lock_that_address_out_for_any_username(
    client: httpx.AsyncClient,
) -> None:
    await log_in(client, username="someone-else", password="guess")
    response = await log_in(client, username="yet-another", password="guess")
    assert response.status_code == 429
    assert "Too many failed logins" in response.text


def test_the_wait_doubles_with_each_failure_in_a_row_up_to_a_bound() -> None:
    now = [1000.0]
    throttle = LoginThrottle(base=1.0, maximum=30.0, clock=lambda: now[0])
    key = ("admin", "203.0.113.7")
    delays = [throttle.failed(key) for _ in range(8)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    assert throttle.wait_seconds(key) == 30.0
    now[0] += 30.0
    assert throttle.wait_seconds(key) == 0.0


def test_a_good_login_forgets_the_failures() -> None:
    throttle = LoginThrottle(base=1.0, maximum=30.0, clock=lambda: 0.0)
    key = ("admin", "203.0.113.7")
    throttle.failed(key)
    throttle.failed(key)
    throttle.succeeded(key)
    assert throttle.wait_seconds(key) == 0.0
    assert throttle.failed(key) == 1.0


def test_the_throttle_remembers_a_bounded_number_of_keys() -> None:
    throttle = LoginThrottle(capacity=2, clock=lambda: 0.0)
    for address in ("198.51.100.1", "198.51.100.2", "198.51.100.3"):
        throttle.failed(("admin", address))
    assert throttle.wait_seconds(("admin", "198.51.100.1")) == 0.0
    assert throttle.wait_seconds(("admin", "198.51.100.3")) > 0.0


async def test_logging_out_ends_the_session(admin: httpx.AsyncClient) -> None:
    response = await admin.post("/admin/logout")
    assert response.status_code == 302
    assert response.headers["location"].endswith("/admin/login")
    refused = await admin.get("/admin/message/list")
    assert refused.status_code == 302
    assert refused.headers["location"].endswith("/admin/login")


async def test_a_password_change_ends_sessions_made_with_the_old_one(
    settings: Settings, admin: httpx.AsyncClient
) -> None:
    new_hash = TEST_HASHER.hash("a new password")
    changed = create_app(settings.model_copy(update={"admin_password_hash": SecretStr(new_hash)}))
    cookies = {SESSION_COOKIE: admin.cookies[SESSION_COOKIE]}
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=changed),
            base_url="http://testserver",
            cookies=cookies,
        ) as old_session:
            assert (await old_session.get("/admin/message/list")).status_code == 302
    finally:
        await changed.state.runtime.close()


def test_a_password_hash_that_is_not_argon2_is_refused_at_start(
    settings: Settings, runtime: Runtime
) -> None:
    broken = settings.model_copy(update={"admin_password_hash": SecretStr("plain-text")})
    with pytest.raises(AdminConfigError, match="hash-password"):
        AdminAuth(replace(runtime, settings=broken))

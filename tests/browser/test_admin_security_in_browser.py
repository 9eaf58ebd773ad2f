"""Forged admin requests fail in a real browser, and admin pages can be neither framed nor
cached; a logged-out session stays out even with a copy of its cookie."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import Service
from tests.conftest import API_KEY
from tests.support.payloads import inbound, text_message
from tests.support.processes import free_port

pytestmark = pytest.mark.browser


def _message(service: Service, customer: str) -> dict[str, object]:
    response = httpx.get(
        f"{service.url}/api/whatsapp/messages/",
        params={"phone": customer},
        headers={"Authorization": f"Bearer {API_KEY}"},
    )
    assert response.status_code == 200, response.text
    [message] = response.json()["messages"]
    return dict(message)


def test_admin_pages_cannot_be_framed_or_cached(admin_page: Page) -> None:
    for path in ("/admin/message/list", "/admin/job/list", "/admin/login"):
        response = admin_page.goto(path)
        assert response is not None
        headers = response.headers
        assert headers["content-security-policy"] == "frame-ancestors 'none'"
        assert headers["x-frame-options"] == "DENY"
        assert headers["cache-control"] == "no-store"


def test_a_page_of_another_origin_on_the_same_site_cannot_mark_a_message_read(
    admin_page: Page, service: Service, customer: str
) -> None:
    service.deliver(inbound(text_message("do not touch", from_=customer)))
    message = _message(service, customer)
    # Another port of the same host: the same site, so SameSite=Strict sends the cookie.
    attacker = f"http://127.0.0.1:{free_port()}"
    target = f"{service.url}/admin/message/action/mark-read?pks={message['id']}"
    admin_page.route(
        f"{attacker}/**",
        lambda route: route.fulfill(
            content_type="text/html",
            body=f'<form method="post" action="{target}"></form>'
            "<script>document.forms[0].submit()</script>",
        ),
    )

    with admin_page.expect_response(re.compile(r"/action/mark-read")) as answer:
        admin_page.goto(f"{attacker}/prize")

    assert answer.value.status == 403
    assert _message(service, customer)["status"] == "received"


def test_an_action_link_followed_as_a_get_changes_nothing(
    admin_page: Page, service: Service, customer: str
) -> None:
    service.deliver(inbound(text_message("still unread", from_=customer)))
    message = _message(service, customer)

    response = admin_page.goto(f"/admin/message/action/mark-read?pks={message['id']}")

    assert response is not None
    assert response.status == 405
    assert _message(service, customer)["status"] == "received"


def test_a_copied_session_cookie_opens_nothing_after_logout(
    admin_page: Page, browser: Browser, service: Service
) -> None:
    copied = admin_page.context.cookies()
    admin_page.click("text=Logout")
    expect(admin_page).to_have_url(re.compile(r"/admin/login$"))

    other = browser.new_context(base_url=service.url)
    try:
        other.add_cookies(copied)
        tab = other.new_page()
        tab.goto("/admin/message/list")
        expect(tab).to_have_url(re.compile(r"/admin/login$"))
    finally:
        other.close()

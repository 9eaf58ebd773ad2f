"""The API documentation as a newcomer uses it: in Chromium, with no internet."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import API_KEY

pytestmark = pytest.mark.browser


def test_docs_authorize_with_the_key_and_try_a_route(
    page: Page, foreign_requests: list[str]
) -> None:
    page.goto("/docs")
    expect(
        page.locator(".opblock-summary-path", has_text="/api/whatsapp/messages/").first
    ).to_be_visible()

    page.get_by_role("button", name="Authorize").first.click()
    page.locator(".modal-ux input[type=text], .modal-ux input[type=password]").first.fill(API_KEY)
    page.locator(".modal-ux .auth-btn-wrapper button.authorize").click()
    page.locator(".modal-ux .auth-btn-wrapper button.btn-done").click()

    operation = page.locator(
        "#operations-conversations-list_conversations_api_whatsapp_conversations__get"
    )
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.get_by_role("button", name="Execute").click()
    expect(
        operation.locator(".live-responses-table tbody tr.response .response-col_status").first
    ).to_have_text("200")
    assert foreign_requests == []

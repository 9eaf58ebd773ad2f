"""The thread's template picker in Chromium: a customer whose 24-hour window is closed
gets an approved template, its parameters typed into the form and previewed first."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Service, serving
from tests.conftest import API_KEY
from tests.message_templates.conftest import ORDER_UPDATE, WABA
from tests.support.databases import BACKENDS
from tests.support.fake_graph import FakeGraph
from tests.support.payloads import inbound, text_message

pytestmark = pytest.mark.browser


def _templates(graph: FakeGraph) -> None:
    graph.add_template(WABA, "order_update", components=ORDER_UPDATE)
    graph.add_template(WABA, "spring_sale", status="PAUSED", category="MARKETING")


@pytest.fixture(scope="module", params=BACKENDS)
def service(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    """The server with a business account, whose worker syncs its templates at start."""
    backend = str(request.param)
    directory = tmp_path_factory.mktemp(f"browser-templates-{backend}")
    extra = {"WHATSAPP_BUSINESS_ACCOUNT_ID": WABA}
    with serving(backend, directory, extra, _templates) as running:
        _wait_for_templates(running)
        yield running


def _api(service: Service, path: str, **params: str) -> dict[str, object]:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    response = httpx.get(f"{service.url}/api/whatsapp/{path}", params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def _wait_for_templates(service: Service) -> None:
    deadline = time.monotonic() + 15
    while _api(service, "templates/")["count"] != 2:
        assert time.monotonic() < deadline, "the worker did not sync the templates"
        time.sleep(0.1)


def test_send_a_template_once_the_window_is_closed(
    admin_page: Page, service: Service, customer: str
) -> None:
    two_days_ago = datetime.now(UTC) - timedelta(days=2)
    service.deliver(inbound(text_message("any news?", from_=customer, timestamp=two_days_ago)))
    listed = _api(service, "conversations/", q=customer)["conversations"]
    assert isinstance(listed, list)
    admin_page.goto(f"/admin/conversation/thread/{listed[0]['id']}")
    expect(admin_page.locator("#window-closed")).to_be_visible()
    options = admin_page.locator("#template-select option").all_inner_texts()
    assert options == ["Choose a template", "order_update (en_US, utility)"]

    admin_page.select_option("#template-select", "order_update|en_US")
    inputs = admin_page.locator("#template-parameters input")
    expect(inputs).to_have_count(5)
    for index, value in enumerate(["A-7", "Ana", "A-7", "Friday", "A-7"]):
        inputs.nth(index).fill(value)
    expect(admin_page.locator("#template-preview")).to_have_text(
        "Order A-7\n\nHi Ana, your order A-7 ships on Friday.\n\nReply STOP to opt out"
    )
    admin_page.click("#template-send")
    admin_page.wait_for_load_state()

    outbound = admin_page.locator("#thread .inbox-out .inbox-text")
    expect(outbound).to_contain_text("Hi Ana, your order A-7 ships on Friday.")
    (sent,) = [m for m in service.graph.sent_messages() if m.get("to") == customer]
    assert sent["template"]["name"] == "order_update"

"""The admin panel as people use it, in Chromium against the running server."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import Service, log_in, png
from tests.support.payloads import image_message, inbound, text_message

pytestmark = pytest.mark.browser


def _contact(number: str, name: str) -> dict[str, object]:
    return {"profile": {"name": name}, "wa_id": number}


def _search(page: Page, list_path: str, term: str) -> None:
    page.goto(list_path)
    page.fill("#search-input", term)
    page.press("#search-input", "Enter")
    page.wait_for_url(re.compile(r"search="))


def _rows(page: Page) -> list[str]:
    return page.locator("table tbody tr").all_inner_texts()


def test_log_in(page: Page, foreign_requests: list[str]) -> None:
    page.goto("/admin/message/list")
    expect(page).to_have_url(re.compile(r"/admin/login$"))
    log_in(page)
    expect(page.locator("h3.card-title").first).to_have_text("Conversations")
    assert foreign_requests == []


def test_search_a_phone_number(admin_page: Page, service: Service, customer: str) -> None:
    service.deliver(inbound(text_message("mine", from_=customer)))
    service.deliver(inbound(text_message("someone else's", from_="15550000001")))
    _search(admin_page, "/admin/message/list", customer)
    rows = _rows(admin_page)
    assert len(rows) == 1
    assert customer in rows[0]
    assert "mine" in rows[0]


def test_filter_by_type(admin_page: Page, service: Service, customer: str) -> None:
    service.deliver(
        inbound(text_message("just text", from_=customer), image_message(from_=customer))
    )
    _search(admin_page, "/admin/message/list", customer)
    assert len(_rows(admin_page)) == 2
    admin_page.locator("#filter-sidebar a", has_text=re.compile(r"^\s*image\s*$")).click()
    admin_page.wait_for_url(re.compile(r"message_type=image"))
    rows = _rows(admin_page)
    assert len(rows) == 1
    assert "image" in rows[0]
    assert "just text" not in rows[0]


def test_an_image_message_shows_its_picture(
    admin_page: Page, service: Service, customer: str
) -> None:
    media = service.graph.add_media(png(), "image/png")
    sent = image_message(media.media_id, mime_type="image/png", caption="a photo", from_=customer)
    service.deliver(inbound(sent))
    _search(admin_page, "/admin/message/list", customer)
    admin_page.locator("table tbody tr a[href*='/details/']").first.click()
    picture = admin_page.locator("img.inbox-image")
    # The worker downloads the file from the (fake) Graph API in the background.
    for _ in range(50):
        if picture.count():
            break
        admin_page.wait_for_timeout(200)
        admin_page.reload()
    expect(picture).to_be_visible()
    picture.evaluate("img => img.decode()")
    assert picture.evaluate("img => img.naturalWidth") > 0


def test_edit_a_note_and_find_it_saved_after_a_reload(
    admin_page: Page, service: Service, customer: str
) -> None:
    service.deliver(inbound(text_message("please call me", from_=customer)))
    _search(admin_page, "/admin/message/list", customer)
    admin_page.locator("table tbody tr a[href*='/edit/']").first.click()
    admin_page.fill("textarea[name=notes]", "Called back at 3 pm")
    admin_page.click("input[type=submit][value=Save]")
    # Back on the list the agent came from, still searched.
    admin_page.wait_for_url(re.compile(r"/admin/message/list\?search=" + customer))
    admin_page.locator("table tbody tr a[href*='/details/']").first.click()
    admin_page.reload()
    expect(admin_page.locator("#section-what")).to_contain_text("Called back at 3 pm")


def _unread_cell(page: Page) -> Locator:
    """The first row's cell under the conversation list's "Unread" heading."""
    headings = [h.strip() for h in page.locator("table thead th").all_inner_texts()]
    return page.locator("table tbody tr").first.locator("td").nth(headings.index("Unread"))


def test_mark_a_message_read_and_see_the_unread_count_fall_by_one(
    admin_page: Page, service: Service, customer: str
) -> None:
    service.deliver(
        inbound(
            text_message("first", from_=customer),
            text_message("second", from_=customer),
            contacts=[_contact(customer, "Unread Tester")],
        )
    )
    _search(admin_page, "/admin/conversation/list", customer)
    # Select box, actions, contact, number, business number, messages, then unread.
    expect(_unread_cell(admin_page)).to_have_text("2")

    _search(admin_page, "/admin/message/list", customer)
    admin_page.locator("table tbody tr input.select-box").first.check()
    admin_page.click("#dropdownMenuButton")
    admin_page.click("#action-custom-mark-read")
    admin_page.wait_for_load_state()
    expect(admin_page.locator("table tbody")).to_contain_text("read")

    _search(admin_page, "/admin/conversation/list", customer)
    expect(_unread_cell(admin_page)).to_have_text("1")


def test_send_a_reply_from_the_thread_and_see_it_there(
    admin_page: Page, service: Service, customer: str
) -> None:
    wrote = datetime.now(UTC) - timedelta(minutes=3)
    service.deliver(inbound(text_message("are you open today?", from_=customer, timestamp=wrote)))
    _search(admin_page, "/admin/conversation/list", customer)
    admin_page.click("a.inbox-thread-link")
    expect(admin_page.locator("#thread")).to_contain_text("are you open today?")
    admin_page.fill("#reply-body", "Yes, until 6 pm.")
    admin_page.click("#reply-send")
    admin_page.wait_for_load_state()
    outbound = admin_page.locator(".inbox-out .inbox-text")
    expect(outbound).to_have_text("Yes, until 6 pm.")
    sent = [m for m in service.graph.sent_messages() if m.get("to") == customer]
    assert [m["text"]["body"] for m in sent] == ["Yes, until 6 pm."]


def test_log_out_and_be_refused(admin_page: Page) -> None:
    admin_page.click("text=Logout")
    expect(admin_page).to_have_url(re.compile(r"/admin/login$"))
    admin_page.goto("/admin/message/list")
    expect(admin_page).to_have_url(re.compile(r"/admin/login$"))
    expect(admin_page.locator("input[name=password]")).to_be_visible()

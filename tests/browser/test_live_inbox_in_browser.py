"""The live inbox in Chromium: what arrives shows without a reload, the thread sits at the
newest message, and opening a thread reads it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Service
from tests.support.payloads import inbound, status, status_update, text_message

pytestmark = pytest.mark.browser


def _open_live(page: Page, path: str) -> None:
    """Open `path`, mark the document (a reload would lose the mark), and wait until its
    live feed is connected."""
    page.goto(path)
    page.evaluate("window.__sameDocument = true")
    expect(page.locator("#inbox-live")).to_have_attribute("data-live-state", "open")


def _not_reloaded(page: Page) -> None:
    assert page.evaluate("window.__sameDocument === true")


def _distance_from_bottom(page: Page) -> float:
    distance: float = page.locator("#thread").evaluate(
        "el => el.scrollHeight - el.scrollTop - el.clientHeight"
    )
    return distance


def _thread_of(page: Page, service: Service, customer: str, *texts: str) -> None:
    """Deliver `texts` from `customer` a few minutes ago, and open their thread."""
    wrote = datetime.now(UTC) - timedelta(minutes=5)
    service.deliver(
        inbound(
            *(
                text_message(t, from_=customer, timestamp=wrote + timedelta(seconds=n))
                for n, t in enumerate(texts)
            )
        )
    )
    page.goto(f"/admin/conversation/list?search={customer}")
    page.click("a.inbox-thread-link")
    page.wait_for_url(re.compile(r"/admin/conversation/thread/\d+"))


def test_a_message_arrives_in_the_open_thread_without_a_reload(
    admin_page: Page, service: Service, customer: str
) -> None:
    _thread_of(admin_page, service, customer, "hello")
    _open_live(admin_page, admin_page.url)

    service.deliver(inbound(text_message("are you there?", from_=customer)))

    expect(admin_page.locator(".inbox-in .inbox-text").last).to_have_text("are you there?")
    # Read as it arrived: the agent is looking at it.
    expect(admin_page.locator("#thread-unread-count")).to_have_text("0")
    _not_reloaded(admin_page)


def test_a_status_tick_arrives_in_the_open_thread_without_a_reload(
    admin_page: Page, service: Service, customer: str
) -> None:
    _thread_of(admin_page, service, customer, "please confirm")
    admin_page.fill("#reply-body", "Confirmed.")
    admin_page.click("#reply-send")
    admin_page.wait_for_url(re.compile(r"sent=1"))
    _open_live(admin_page, admin_page.url)
    wamid = admin_page.locator(".inbox-out .inbox-bubble").last.get_attribute("data-message-id")
    assert wamid

    service.deliver(status_update(status(wamid, "delivered", recipient_id=customer)))

    expect(admin_page.locator(".inbox-out .inbox-status").last).to_have_text("delivered")
    _not_reloaded(admin_page)


def test_a_message_moves_its_conversation_to_the_top_of_the_list_without_a_reload(
    admin_page: Page, service: Service, customer: str
) -> None:
    older, newer = customer[:-1] + "1", customer[:-1] + "2"
    now = datetime.now(UTC)
    service.deliver(
        inbound(text_message("old news", from_=older, timestamp=now - timedelta(hours=2)))
    )
    service.deliver(
        inbound(text_message("recent", from_=newer, timestamp=now - timedelta(hours=1)))
    )
    _open_live(admin_page, f"/admin/conversation/list?search={customer[:-1]}")
    first_row = admin_page.locator("table tbody tr").first
    expect(first_row).to_contain_text(newer)

    service.deliver(inbound(text_message("back again!", from_=older)))

    expect(first_row).to_contain_text(older)
    expect(first_row).to_contain_text("back again!")
    expect(first_row.locator(".inbox-unread-badge")).to_have_text("2")
    _not_reloaded(admin_page)


def test_the_thread_opens_at_the_newest_message_and_stays_there_after_a_reply(
    admin_page: Page, service: Service, customer: str
) -> None:
    texts = [f"line {n}" for n in range(40)]
    _thread_of(admin_page, service, customer, *texts)
    expect(admin_page.locator(".inbox-in .inbox-text").last).to_have_text("line 39")
    assert _distance_from_bottom(admin_page) < 5

    admin_page.fill("#reply-body", "Thanks, reading all of it.")
    admin_page.click("#reply-send")
    admin_page.wait_for_url(re.compile(r"sent=1"))

    expect(admin_page.locator(".inbox-out .inbox-text").last).to_have_text(
        "Thanks, reading all of it."
    )
    assert _distance_from_bottom(admin_page) < 5
    sent_note = admin_page.locator("#reply-sent").bounding_box()
    send_button = admin_page.locator("#reply-send")
    expect(send_button).to_be_in_viewport()
    button = send_button.bounding_box()
    assert sent_note is not None and button is not None
    overlaps = (
        sent_note["x"] < button["x"] + button["width"]
        and button["x"] < sent_note["x"] + sent_note["width"]
        and sent_note["y"] < button["y"] + button["height"]
        and button["y"] < sent_note["y"] + sent_note["height"]
    )
    assert not overlaps
    expect(admin_page.locator(".toast")).to_have_count(0)


def test_opening_a_thread_marks_it_read(admin_page: Page, service: Service, customer: str) -> None:
    service.deliver(
        inbound(text_message("one", from_=customer), text_message("two", from_=customer))
    )
    admin_page.goto(f"/admin/conversation/list?search={customer}")
    expect(admin_page.locator(".inbox-unread-badge")).to_have_text("2")

    admin_page.click("a.inbox-thread-link")

    expect(admin_page.locator("#thread-unread-count")).to_have_text("0")
    admin_page.goto(f"/admin/conversation/list?search={customer}")
    expect(admin_page.locator("table tbody tr")).to_have_count(1)
    expect(admin_page.locator(".inbox-unread-badge")).to_have_count(0)


def test_a_note_saved_in_the_thread_keeps_the_agent_in_the_thread(
    admin_page: Page, service: Service, customer: str
) -> None:
    _thread_of(admin_page, service, customer, "I am a returning customer")
    thread_url = admin_page.url

    admin_page.fill("#notes-body", "Prefers mornings")
    admin_page.click("#notes-save")

    admin_page.wait_for_url(re.compile(r"noted=1"))
    assert admin_page.url.split("?")[0] == thread_url.split("?")[0]
    expect(admin_page.locator("#notes-body")).to_have_value("Prefers mornings")
    expect(admin_page.locator("#notes-saved")).to_be_visible()

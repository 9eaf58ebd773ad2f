"""The inbox as an agent works it: opening a thread reads it, notes stay in the thread,
a save goes back where the agent was, and the open pages have a live feed."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
import respx
from sqlalchemy import select

from app.models import Conversation, Message
from app.runtime import Runtime
from tests.admin.conftest import message_pk
from tests.conftest import PHONE_NUMBER_ID
from tests.support.clock import FixedClock
from tests.support.payloads import deliver, inbound, text_message

ANNA = "491701234567"
SEND_URL = f"https://graph.facebook.com/v25.0/{PHONE_NUMBER_ID}/messages"


@pytest.fixture
async def anna(client: httpx.AsyncClient, clock: FixedClock) -> int:
    """Anna wrote twice, ten and nine minutes ago; the id of her conversation."""
    at = clock.now - timedelta(minutes=10)
    body = inbound(
        text_message("first", from_=ANNA, timestamp=at),
        text_message("second", from_=ANNA, timestamp=at + timedelta(minutes=1)),
    )
    assert (await deliver(client, body)).status_code == 200
    return await _conversation_id(client)


async def _conversation_id(_client: httpx.AsyncClient) -> int:
    app = _client._transport.app  # type: ignore[attr-defined]
    runtime: Runtime = app.state.runtime
    async with runtime.sessions() as session:
        return int(await session.scalar(select(Conversation.id)) or 0)


async def _unread(runtime: Runtime, conversation_id: int) -> int:
    async with runtime.sessions() as session:
        conversation = await session.get(Conversation, conversation_id)
        assert conversation is not None
        return conversation.unread_count


async def test_opening_a_thread_marks_the_conversation_read(
    admin: httpx.AsyncClient, runtime: Runtime, anna: int
) -> None:
    page = await admin.get(f"/admin/conversation/thread/{anna}")

    assert page.status_code == 200
    assert await _unread(runtime, anna) == 0
    assert '<span id="thread-unread-count">0</span>' in page.text


async def test_a_setting_keeps_threads_unread_when_opened(
    admin: httpx.AsyncClient, runtime: Runtime, anna: int
) -> None:
    runtime.settings.admin_mark_read_on_open = False

    await admin.get(f"/admin/conversation/thread/{anna}")

    assert await _unread(runtime, anna) == 2


async def test_a_reply_reads_the_thread_and_says_sent_beside_the_reply_box(
    admin: httpx.AsyncClient, runtime: Runtime, anna: int
) -> None:
    runtime.settings.admin_mark_read_on_open = False
    with respx.mock:
        respx.post(SEND_URL).mock(
            return_value=httpx.Response(
                200, json={"messaging_product": "whatsapp", "messages": [{"id": "wamid.R1"}]}
            )
        )
        sent = await admin.post(f"/admin/conversation/thread/{anna}/reply", data={"body": "Hi"})

    assert sent.status_code == 303
    assert sent.headers["location"].endswith(f"/thread/{anna}?sent=1")
    assert await _unread(runtime, anna) == 0
    page = await admin.get(sent.headers["location"])
    assert 'id="reply-sent"' in page.text
    assert "toast" not in page.text


async def test_notes_are_saved_from_the_thread_and_the_agent_stays_there(
    admin: httpx.AsyncClient, runtime: Runtime, anna: int
) -> None:
    saved = await admin.post(f"/admin/conversation/thread/{anna}/notes", data={"notes": "VIP"})

    assert saved.status_code == 303
    assert saved.headers["location"].endswith(f"/thread/{anna}?noted=1#notes")
    page = await admin.get(saved.headers["location"].split("#")[0])
    assert ">VIP</textarea>" in page.text
    assert 'id="notes-saved"' in page.text


async def test_a_message_note_saved_from_the_thread_goes_back_to_the_thread(
    admin: httpx.AsyncClient, runtime: Runtime, anna: int
) -> None:
    async with runtime.sessions() as session:
        first = await session.scalar(select(Message.message_id).order_by(Message.id))
    assert first is not None
    pk = await message_pk(runtime, first)
    thread = f"/admin/conversation/thread/{anna}"
    page = await admin.get(thread)
    assert f"/admin/message/edit/{pk}?next=" in page.text

    saved = await admin.post(
        f"/admin/message/edit/{pk}", data={"notes": "asked twice", "save": "Save", "next": thread}
    )

    assert saved.status_code == 302
    assert saved.headers["location"] == thread
    assert "asked twice" in (await admin.get(thread)).text


async def test_a_save_never_sends_the_agent_off_the_admin(
    admin: httpx.AsyncClient, runtime: Runtime, anna: int
) -> None:
    for elsewhere in ("https://evil.example/admin/", "//evil.example/admin/", "/api/whatsapp/"):
        saved = await admin.post(
            f"/admin/conversation/edit/{anna}",
            data={"notes": "x", "save": "Save", "next": elsewhere},
        )
        assert saved.status_code == 302
        assert saved.headers["location"].endswith("/admin/conversation/list")


async def test_the_edit_form_remembers_the_filtered_list_it_came_from(
    admin: httpx.AsyncClient, anna: int
) -> None:
    came_from = "http://testserver/admin/conversation/list?search=anna"
    form = await admin.get(f"/admin/conversation/edit/{anna}", headers={"Referer": came_from})

    assert 'name="next" value="/admin/conversation/list?search=anna"' in form.text


async def test_the_thread_items_are_the_newest_messages_alone(
    admin: httpx.AsyncClient, anna: int
) -> None:
    fragment = await admin.get(f"/admin/conversation/thread/{anna}/items")

    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith('<div id="thread-items"')
    assert fragment.text.index("first") < fragment.text.index("second")


async def test_the_live_feed_and_the_thread_need_the_login(
    client: httpx.AsyncClient, anna: int
) -> None:
    for url in ("/admin/conversation/live", f"/admin/conversation/thread/{anna}/items"):
        response = await client.get(url)
        assert response.status_code in (302, 303)
        assert "/admin/login" in response.headers["location"]


async def test_a_live_feed_of_no_conversation_is_a_400(admin: httpx.AsyncClient) -> None:
    for value in ("abc", str(2**63)):
        response = await admin.get("/admin/conversation/live", params={"conversation": value})
        assert response.status_code == 400
    stale = await admin.get("/admin/conversation/live", headers={"Last-Event-ID": "yesterday"})
    assert stale.status_code == 400

"""The conversations list, notes, and a conversation's thread with its reply box."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import select

from app.models import Conversation, Message
from app.runtime import Runtime
from tests.admin.conftest import store_media
from tests.admin.test_messages import rows
from tests.conftest import API_KEY, PHONE_NUMBER_ID
from tests.support.clock import FixedClock
from tests.support.payloads import (
    deliver,
    failure,
    image_message,
    inbound,
    status,
    status_update,
    text_message,
)

SEND_URL = f"https://graph.facebook.com/v25.0/{PHONE_NUMBER_ID}/messages"
ANNA = "491701234567"
BORIS = "16505550199"


def _contact(number: str, name: str) -> dict[str, Any]:
    return {"profile": {"name": name}, "wa_id": number}


async def _conversation(runtime: Runtime, number: str) -> Conversation:
    async with runtime.sessions() as session:
        found = await session.execute(
            select(Conversation).where(Conversation.phone_number == number)
        )
        return found.scalar_one()


@pytest.fixture
async def two_customers(client: httpx.AsyncClient, clock: FixedClock) -> None:
    """Anna wrote yesterday (two messages), Boris an hour ago (one), by the app's clock."""
    now = clock.now
    anna = inbound(
        text_message("first question", from_=ANNA, timestamp=now - timedelta(days=1, hours=1)),
        text_message("second question", from_=ANNA, timestamp=now - timedelta(days=1)),
        contacts=[_contact(ANNA, "Anna Schmidt")],
    )
    boris = inbound(
        text_message("hello", from_=BORIS, timestamp=now - timedelta(hours=1)),
        contacts=[_contact(BORIS, "Boris Jones")],
    )
    assert (await deliver(client, anna)).status_code == 200
    assert (await deliver(client, boris)).status_code == 200


async def test_the_list_shows_contact_last_message_time_and_unread_latest_first(
    admin: httpx.AsyncClient, two_customers: None
) -> None:
    page = await admin.get("/admin/conversation/list")
    assert page.status_code == 200
    for label in ("Contact", "Last message", "Unread", "Last activity"):
        assert label in page.text
    listed = rows(page)
    # Contact and number, last message, business number, calls, last activity, unread.
    assert re.search(r"Boris Jones " + BORIS + r" ← hello \S+ 0 \d\d:\d\d 1 Open thread", listed[0])
    # Anna last wrote yesterday: the day is shown with the time.
    assert re.search(
        r"Anna Schmidt " + ANNA + r" ← second question \S+ 0 \d{4}-\d\d-\d\d \d\d:\d\d 2 Open",
        listed[1],
    )


async def test_the_unread_filter_lists_only_conversations_with_unread_messages(
    admin: httpx.AsyncClient, client: httpx.AsyncClient, runtime: Runtime, two_customers: None
) -> None:
    boris = await _conversation(runtime, BORIS)
    marked = await client.post(
        "/api/whatsapp/mark-read/",
        json={"conversation_id": boris.id},
        headers={"Authorization": f"Bearer {API_KEY}"},
    )
    assert marked.status_code == 200

    listed = rows(await admin.get("/admin/conversation/list", params={"unread": "yes"}))

    assert len(listed) == 1
    assert "Anna Schmidt" in listed[0]
    refused = await admin.get("/admin/conversation/list", params={"unread": "maybe"})
    assert refused.status_code == 400


async def test_a_reply_shows_as_the_last_message(
    admin: httpx.AsyncClient, runtime: Runtime, two_customers: None
) -> None:
    boris = await _conversation(runtime, BORIS)
    with respx.mock:
        respx.post(SEND_URL).mock(
            return_value=httpx.Response(
                200, json={"messaging_product": "whatsapp", "messages": [{"id": "wamid.R2"}]}
            )
        )
        sent = await admin.post(
            f"/admin/conversation/thread/{boris.id}/reply", data={"body": "Hi!"}
        )
    assert sent.status_code == 303

    listed = rows(await admin.get("/admin/conversation/list"))

    assert "→ You: Hi!" in listed[0]


@pytest.mark.parametrize(("term", "found"), [("anna", "Anna"), ("+1 650 555 0199", "Boris")])
async def test_the_list_is_searchable_by_name_and_number(
    admin: httpx.AsyncClient, two_customers: None, term: str, found: str
) -> None:
    listed = rows(await admin.get("/admin/conversation/list", params={"search": term}))
    assert len(listed) == 1
    assert found in listed[0]


async def test_conversation_notes_are_editable_and_nothing_else(
    admin: httpx.AsyncClient, runtime: Runtime, two_customers: None
) -> None:
    conversation = await _conversation(runtime, ANNA)
    form = await admin.get(f"/admin/conversation/edit/{conversation.id}")
    assert set(re.findall(r'<(?:input|textarea|select)[^>]*name="(\w+)"', form.text)) == {
        "notes",
        "save",
    }
    saved = await admin.post(
        f"/admin/conversation/edit/{conversation.id}",
        data={"notes": "VIP customer", "unread_count": "0", "save": "Save"},
    )
    assert saved.status_code == 302
    page = await admin.get(f"/admin/conversation/details/{conversation.id}")
    assert "VIP customer" in page.text
    after = await _conversation(runtime, ANNA)
    assert (after.notes, after.unread_count, after.message_count) == ("VIP customer", 2, 2)


async def test_conversations_cannot_be_created_or_deleted(
    admin: httpx.AsyncClient, runtime: Runtime, two_customers: None
) -> None:
    conversation = await _conversation(runtime, ANNA)
    assert (await admin.get("/admin/conversation/create")).status_code == 403
    deleted = await admin.delete(f"/admin/conversation/delete?pks={conversation.id}")
    assert deleted.status_code == 403


async def test_the_thread_shows_messages_in_time_order_with_media_and_statuses(
    admin: httpx.AsyncClient, client: httpx.AsyncClient, runtime: Runtime, clock: FixedClock
) -> None:
    now = clock.now
    photo = image_message(caption="my parcel", from_=ANNA, timestamp=now - timedelta(minutes=5))
    question = text_message("is it broken?", from_=ANNA, timestamp=now - timedelta(minutes=10))
    await deliver(client, inbound(photo, question))
    await store_media(runtime, photo["id"], b"picture", "image/jpeg")
    conversation = await _conversation(runtime, ANNA)
    with respx.mock:
        respx.post(SEND_URL).mock(
            return_value=httpx.Response(
                200,
                json={
                    "messaging_product": "whatsapp",
                    "contacts": [{"input": ANNA, "wa_id": ANNA}],
                    "messages": [{"id": "wamid.REPLY1"}],
                },
            )
        )
        sent = await admin.post(
            f"/admin/conversation/thread/{conversation.id}/reply", data={"body": "Sorry!"}
        )
    assert sent.status_code == 303
    await deliver(client, status_update(status("wamid.REPLY1", "delivered", recipient_id=ANNA)))

    page = await admin.get(f"/admin/conversation/thread/{conversation.id}")
    assert page.status_code == 200
    text = page.text
    assert text.index("is it broken?") < text.index("my parcel") < text.index("Sorry!")
    bubbles = re.findall(r'class="inbox-row (inbox-in|inbox-out)"', text)
    assert bubbles == ["inbox-in", "inbox-in", "inbox-out"]
    image_pk = text.split('data-message-id="' + photo["id"], 1)[1]
    assert '<img class="inbox-media inbox-image" src="http://testserver/admin/message/media/' in (
        image_pk
    )
    assert re.search(r"inbox-status-delivered\">delivered<", text)
    assert re.search(r">delivered \d\d:\d\d<", text)


async def test_a_reply_is_sent_through_the_send_service_and_shown_in_the_thread(
    admin: httpx.AsyncClient, runtime: Runtime, two_customers: None
) -> None:
    conversation = await _conversation(runtime, BORIS)
    with respx.mock:
        route = respx.post(SEND_URL).mock(
            return_value=httpx.Response(
                200,
                json={
                    "messaging_product": "whatsapp",
                    "contacts": [{"input": BORIS, "wa_id": BORIS}],
                    "messages": [{"id": "wamid.REPLY2"}],
                },
            )
        )
        sent = await admin.post(
            f"/admin/conversation/thread/{conversation.id}/reply",
            data={"body": "We ship worldwide."},
            follow_redirects=True,
        )
    assert route.call_count == 1
    payload = route.calls[0].request.content
    assert b"We ship worldwide." in payload
    assert sent.status_code == 200
    assert "We ship worldwide." in sent.text
    assert "Reply sent." in sent.text
    async with runtime.sessions() as session:
        stored = (
            await session.execute(select(Message).where(Message.message_id == "wamid.REPLY2"))
        ).scalar_one()
    assert (stored.direction, stored.conversation_id) == ("out", conversation.id)


async def test_a_reply_outside_the_24_hour_window_is_refused_plainly(
    admin: httpx.AsyncClient, runtime: Runtime, two_customers: None
) -> None:
    conversation = await _conversation(runtime, ANNA)
    thread = await admin.get(f"/admin/conversation/thread/{conversation.id}")
    assert "The 24-hour customer service window is closed." in thread.text
    with respx.mock:
        route = respx.post(SEND_URL)
        refused = await admin.post(
            f"/admin/conversation/thread/{conversation.id}/reply", data={"body": "Still there?"}
        )
    assert route.call_count == 0
    assert refused.status_code == 409
    assert "Not sent: the 24-hour customer service window is closed." in refused.text
    assert "Still there?</textarea>" in refused.text


async def test_an_open_window_says_until_when_a_reply_is_possible(
    admin: httpx.AsyncClient, runtime: Runtime, two_customers: None
) -> None:
    conversation = await _conversation(runtime, BORIS)
    thread = await admin.get(f"/admin/conversation/thread/{conversation.id}")
    assert "You can reply until" in thread.text
    assert "window is closed" not in thread.text


async def test_an_empty_reply_is_refused_without_sending(
    admin: httpx.AsyncClient, runtime: Runtime, two_customers: None
) -> None:
    conversation = await _conversation(runtime, BORIS)
    with respx.mock:
        route = respx.post(SEND_URL)
        refused = await admin.post(
            f"/admin/conversation/thread/{conversation.id}/reply", data={"body": "   "}
        )
    assert route.call_count == 0
    assert refused.status_code == 400
    assert "Write a message first." in refused.text


async def test_meta_refusing_a_reply_is_shown_with_the_draft_kept(
    admin: httpx.AsyncClient, runtime: Runtime, two_customers: None
) -> None:
    conversation = await _conversation(runtime, BORIS)
    error = {"error": {"message": "(#131026) Message undeliverable", "code": 131026}}
    with respx.mock:
        respx.post(SEND_URL).mock(return_value=httpx.Response(400, json=error))
        refused = await admin.post(
            f"/admin/conversation/thread/{conversation.id}/reply", data={"body": "Hello?"}
        )
    assert refused.status_code == 422
    assert "Not sent: Meta refused the message" in refused.text
    assert "Hello?</textarea>" in refused.text


@pytest.mark.parametrize("path", ["/admin/conversation/thread/999", "/admin/conversation/thread/x"])
async def test_the_thread_of_an_unknown_conversation_is_a_404(
    admin: httpx.AsyncClient, path: str
) -> None:
    assert (await admin.get(path)).status_code == 404


async def test_a_long_thread_pages_back_to_earlier_messages(
    admin: httpx.AsyncClient, client: httpx.AsyncClient, runtime: Runtime
) -> None:
    start = datetime.now(UTC) - timedelta(hours=5)
    messages = [
        text_message(f"number {n:03d}", from_=ANNA, timestamp=start + timedelta(seconds=n))
        for n in range(105)
    ]
    await deliver(client, inbound(*messages))
    conversation = await _conversation(runtime, ANNA)
    newest = await admin.get(f"/admin/conversation/thread/{conversation.id}")
    assert "number 104" in newest.text
    assert "number 004" not in newest.text
    earlier = re.search(r'href="([^"]+)" id="thread-earlier"', newest.text)
    assert earlier is not None
    older = await admin.get(earlier.group(1).replace("&amp;", "&"))
    assert "number 004" in older.text
    assert "number 005" not in older.text
    bad = await admin.get(f"/admin/conversation/thread/{conversation.id}?before=garbage")
    assert bad.status_code == 400


async def test_a_failed_reply_shows_metas_error_in_the_thread(
    admin: httpx.AsyncClient, client: httpx.AsyncClient, runtime: Runtime, two_customers: None
) -> None:
    conversation = await _conversation(runtime, BORIS)
    with respx.mock:
        respx.post(SEND_URL).mock(
            return_value=httpx.Response(
                200,
                json={
                    "messaging_product": "whatsapp",
                    "contacts": [{"input": BORIS, "wa_id": BORIS}],
                    "messages": [{"id": "wamid.REPLY3"}],
                },
            )
        )
        await admin.post(f"/admin/conversation/thread/{conversation.id}/reply", data={"body": "Hi"})
    failed = status("wamid.REPLY3", "failed", recipient_id=BORIS, errors=[failure()])
    await deliver(client, status_update(failed))
    page = await admin.get(f"/admin/conversation/thread/{conversation.id}")
    assert 'inbox-status-failed">failed<' in page.text
    assert "Re-engagement message (131047)" in page.text

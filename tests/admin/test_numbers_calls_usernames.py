"""The admin with several business numbers, calls in the thread, and customers known by
a business-scoped user id instead of a number."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from app.config import Settings
from app.models import Conversation
from app.runtime import Runtime
from tests.admin.conftest import ADMIN_USERNAME
from tests.admin.test_messages import rows
from tests.conftest import PHONE_NUMBER_ID, make_settings
from tests.support import payloads as p
from tests.support.databases import TestDatabase

SALES = "106540352242933"
CALLER = "447700900001"
USER_ID = "US.13491208655302741918"
CALLED_AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def settings(database: TestDatabase, tmp_path: Path, admin_password_hash: str) -> Settings:
    """The admin login, and two business numbers with labels."""
    return make_settings(
        database.url,
        tmp_path,
        admin_username=ADMIN_USERNAME,
        admin_password_hash=admin_password_hash,
        whatsapp_phone_numbers=[
            {"id": PHONE_NUMBER_ID, "display": "+1 555 000 1111", "label": "support"},
            {"id": SALES, "display": "+1 555 000 2222", "label": "sales"},
        ],
    )


async def _conversations(runtime: Runtime) -> list[Conversation]:
    async with runtime.sessions() as session:
        return list(
            (await session.execute(select(Conversation).order_by(Conversation.id))).scalars()
        )


async def test_one_customers_two_conversations_show_their_business_numbers(
    client: httpx.AsyncClient, admin: httpx.AsyncClient
) -> None:
    for number in (PHONE_NUMBER_ID, SALES):
        message = p.text_message("hi", from_=CALLER)
        await p.deliver(client, p.inbound(message, phone_number_id=number))

    listed = rows(await admin.get("/admin/conversation/list"))

    # The caller's number, the last message, then the business number it went to.
    assert sorted(row.split(CALLER + " ← hi")[1].split()[0:4] for row in listed) == [
        ["sales", "·", "+1", "555"],
        ["support", "·", "+1", "555"],
    ]


async def _wrote_to_both_numbers(client: httpx.AsyncClient) -> None:
    for number in (PHONE_NUMBER_ID, SALES):
        message = p.text_message(f"hi {number}", from_=CALLER)
        await p.deliver(client, p.inbound(message, phone_number_id=number))


async def test_the_conversation_list_filters_by_business_number(
    client: httpx.AsyncClient, admin: httpx.AsyncClient
) -> None:
    await _wrote_to_both_numbers(client)

    page = await admin.get("/admin/conversation/list", params={"number": SALES})

    assert page.status_code == 200
    (row,) = rows(page)
    assert f"hi {SALES}" in row
    assert "sales · +1 555 000 2222" in page.text  # the filter offers each number by name


async def test_the_message_list_filters_by_business_number(
    client: httpx.AsyncClient, admin: httpx.AsyncClient
) -> None:
    await _wrote_to_both_numbers(client)

    page = await admin.get("/admin/message/list", params={"number": PHONE_NUMBER_ID})

    assert page.status_code == 200
    (row,) = rows(page)
    assert f"hi {PHONE_NUMBER_ID}" in row


async def test_a_business_number_filter_that_is_no_id_is_400(admin: httpx.AsyncClient) -> None:
    page = await admin.get("/admin/conversation/list", params={"number": "9" * 65})

    assert page.status_code == 400


async def test_the_thread_shows_each_call_and_counts_them_apart(
    client: httpx.AsyncClient, admin: httpx.AsyncClient, runtime: Runtime
) -> None:
    missed = p.call_event(from_=CALLER, timestamp=CALLED_AT)
    answered = p.call_event(from_=CALLER, timestamp=CALLED_AT.replace(hour=10))
    ended = p.call_ended(
        answered["id"],
        from_=CALLER,
        timestamp=CALLED_AT.replace(hour=10, minute=3),
        answered_for=125,
    )
    calls = [missed, p.call_ended(missed["id"], from_=CALLER, timestamp=CALLED_AT), answered, ended]
    await p.deliver(client, p.webhook(p.entry(p.change(p.calls_value(*calls), "calls"))))
    (conversation,) = await _conversations(runtime)

    page = await admin.get(f"/admin/conversation/thread/{conversation.id}")

    assert page.status_code == 200
    assert page.text.index("Missed call") < page.text.index("Call, 2 min 5 s")
    assert '<span id="thread-call-count">2</span> calls' in page.text
    assert '<span id="thread-message-count">0</span> messages' in page.text
    assert "To support · +1 555 000 1111" in page.text


async def test_a_username_customer_is_shown_and_found_by_user_id(
    client: httpx.AsyncClient, admin: httpx.AsyncClient
) -> None:
    message = p.text_message("hello from a username", from_=None, from_user_id=USER_ID)
    contact = {"profile": {"name": "Kim"}, "user_id": USER_ID}
    assert (await p.deliver(client, p.inbound(message, contacts=[contact]))).status_code == 200

    messages = rows(await admin.get("/admin/message/list", params={"search": USER_ID}))
    conversations = rows(await admin.get("/admin/conversation/list", params={"search": USER_ID}))

    (listed,) = messages
    assert listed.split()[0] == USER_ID  # the From column
    (conversation,) = conversations
    assert USER_ID in conversation


async def test_a_conversations_details_name_its_business_number_and_its_id(
    client: httpx.AsyncClient, admin: httpx.AsyncClient, runtime: Runtime
) -> None:
    await p.deliver(client, p.inbound(p.text_message("hi", from_=CALLER), phone_number_id=SALES))
    (conversation,) = await _conversations(runtime)

    page = await admin.get(f"/admin/conversation/details/{conversation.id}")

    assert f"sales · +1 555 000 2222 ({SALES})" in page.text

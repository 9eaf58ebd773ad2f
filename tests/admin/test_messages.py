"""The messages list, search, filters, details, notes and the mark-read action."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import event, select

from app.jobs import kinds
from app.models import Conversation, Job, Message
from app.runtime import Runtime
from tests.admin.conftest import message_pk, store_media
from tests.messages.store import store_message
from tests.support.payloads import (
    audio_message,
    deliver,
    document_message,
    image_message,
    inbound,
    location_message,
    status,
    status_update,
    text_message,
    video_message,
)

ANNA = "491701234567"
BORIS = "16505550199"


def rows(page: httpx.Response) -> list[str]:
    """The text of each row of a list page's table, in order."""
    body = page.text.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)) for row in body.split("<tr>")[1:]]


@pytest.fixture
async def inbox(client: httpx.AsyncClient) -> dict[str, Any]:
    """Messages of two customers, delivered through the webhook."""
    first = text_message(
        "Where is my order?", from_=ANNA, timestamp=datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
    )
    second = image_message(
        caption="Photo of the parcel", from_=ANNA, timestamp=datetime(2024, 3, 2, 9, 0, tzinfo=UTC)
    )
    third = text_message(
        "Do you ship to Canada?", from_=BORIS, timestamp=datetime(2024, 3, 3, 9, 0, tzinfo=UTC)
    )
    anna = inbound(first, second, contacts=[_contact(ANNA, "Anna Schmidt")])
    boris = inbound(third, contacts=[_contact(BORIS, "Boris Jones")])
    assert (await deliver(client, anna)).status_code == 200
    assert (await deliver(client, boris)).status_code == 200
    return {"first": first, "second": second, "third": third}


def _contact(number: str, name: str) -> dict[str, Any]:
    return {"profile": {"name": name}, "wa_id": number}


async def test_the_list_shows_from_name_type_text_or_caption_time_direction_and_status(
    admin: httpx.AsyncClient, inbox: dict[str, Any]
) -> None:
    page = await admin.get("/admin/message/list")
    assert page.status_code == 200
    for label in ("From", "Name", "Type", "Text or caption", "Time", "Direction", "Status"):
        assert f">{label}<" in page.text or f"> {label}<" in page.text or label in page.text
    image_row = rows(page)[1]
    for shown in (ANNA, "Anna Schmidt", "image", "Photo of the parcel", "2024-03-02 09:00:00"):
        assert shown in image_row
    assert "in" in image_row
    assert "received" in image_row


async def test_the_list_shows_a_shared_locations_name(
    admin: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    assert (
        await deliver(client, inbound(location_message(name="Philz Coffee")))
    ).status_code == 200
    [row] = rows(await admin.get("/admin/message/list"))
    assert "location" in row
    assert "Philz Coffee" in row


async def test_the_list_is_newest_first(admin: httpx.AsyncClient, inbox: dict[str, Any]) -> None:
    listed = rows(await admin.get("/admin/message/list"))
    assert ["Canada" in listed[0], "parcel" in listed[1], "order" in listed[2]] == [True] * 3


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        (ANNA, {"order", "parcel"}),
        ("+49 170 1234567", {"order", "parcel"}),
        ("boris", {"Canada"}),
        ("ship to", {"Canada"}),
        ("parcel", {"parcel"}),
        ("100%", set()),
    ],
)
async def test_search_finds_by_phone_number_name_and_text(
    admin: httpx.AsyncClient, inbox: dict[str, Any], term: str, expected: set[str]
) -> None:
    page = await admin.get("/admin/message/list", params={"search": term})
    assert page.status_code == 200
    listed = rows(page)
    found = {word for word in ("order", "parcel", "Canada") if any(word in r for r in listed)}
    assert found == expected
    assert len(listed) == len(expected)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"message_type": "image"}, {"parcel"}),
        ({"message_type": "text"}, {"order", "Canada"}),
        ({"direction": "in"}, {"order", "parcel", "Canada"}),
        ({"direction": "out"}, set()),
        ({"status": "received"}, {"order", "parcel", "Canada"}),
        ({"status": "read"}, set()),
        ({"date_from": "2024-03-02"}, {"parcel", "Canada"}),
        ({"date_to": "2024-03-02"}, {"order", "parcel"}),
        ({"date_from": "2024-03-02", "date_to": "2024-03-02"}, {"parcel"}),
    ],
)
async def test_filters_by_date_range_type_direction_and_status(
    admin: httpx.AsyncClient, inbox: dict[str, Any], params: dict[str, str], expected: set[str]
) -> None:
    page = await admin.get("/admin/message/list", params=params)
    assert page.status_code == 200
    listed = rows(page)
    found = {word for word in ("order", "parcel", "Canada") if any(word in r for r in listed)}
    assert found == expected


async def test_a_date_filter_that_is_not_a_date_is_a_clear_400(
    admin: httpx.AsyncClient, inbox: dict[str, Any]
) -> None:
    page = await admin.get("/admin/message/list", params={"date_from": "yesterday"})
    assert page.status_code == 400
    assert "date_from must be a date written as YYYY-MM-DD" in page.text


@pytest.fixture
def statements(runtime: Runtime) -> Iterator[list[str]]:
    """Every SQL statement the app's engine runs while the test runs."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(runtime.engine.sync_engine, "before_cursor_execute", record)
    yield seen
    event.remove(runtime.engine.sync_engine, "before_cursor_execute", record)


async def test_a_list_page_never_counts_the_whole_message_table(
    admin: httpx.AsyncClient, inbox: dict[str, Any], statements: list[str]
) -> None:
    for params in ({}, {"page": "2"}, {"search": "order"}, {"message_type": "text"}):
        page = await admin.get("/admin/message/list", params=params, follow_redirects=True)
        assert page.status_code == 200
    counts = [s for s in statements if "count(" in s.lower() and "whatsapp_whatsappmessage" in s]
    assert counts, "the list did not count at all"
    for statement in counts:
        assert re.search(r"\bLIMIT\b", statement, re.IGNORECASE), statement


async def test_a_long_list_says_more_than_instead_of_counting_everything(
    admin: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    many = [text_message(f"message {n}", from_=ANNA) for n in range(210)]
    assert (await deliver(client, inbound(*many))).status_code == 200
    page = await admin.get("/admin/message/list")
    assert "of more than 200 items" in page.text
    last = await admin.get("/admin/message/list", params={"page": "9"})
    assert "Showing 201 to 210 of 210 items" in last.text


def _section(page: httpx.Response, key: str) -> str:
    found = re.search(
        rf'<section class="inbox-section" id="section-{key}">(.*?)</section>', page.text, re.S
    )
    return found.group(1) if found else ""


async def test_the_details_group_fields_for_people_and_fold_the_raw_json(
    admin: httpx.AsyncClient, runtime: Runtime, inbox: dict[str, Any]
) -> None:
    pk = await message_pk(runtime, inbox["first"]["id"])
    page = await admin.get(f"/admin/message/details/{pk}")
    assert page.status_code == 200
    who, what, status = (_section(page, k) for k in ("who", "what", "status"))
    assert "Received from the customer" in who
    assert "491701234567" in who
    assert "<dt>Text</dt>" in what
    assert "<dd>received</dd>" in status
    # A text message has no media, no place and no caption: nothing empty is shown.
    assert _section(page, "media") == ""
    for label in ("Coordinates", "Caption", "Place", "media_sha256", "latitude"):
        assert f"<dt>{label}</dt>" not in page.text
    assert page.text.count("<dt>") < 15
    pretty = json.dumps(inbox["first"], indent=2, sort_keys=True).replace('"', "&#34;")
    raw = _section(page, "raw")
    assert "<details>" in raw
    assert f'<pre class="inbox-json">{pretty}</pre>' in raw


async def test_the_details_show_times_in_the_business_time_zone(
    admin: httpx.AsyncClient, runtime: Runtime, inbox: dict[str, Any]
) -> None:
    runtime.settings.business_timezone = "Asia/Kolkata"
    pk = await message_pk(runtime, inbox["first"]["id"])

    what = _section(await admin.get(f"/admin/message/details/{pk}"), "what")

    assert re.search(r"<dd>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d IST</dd>", what)


async def test_the_details_of_a_sent_message_list_its_status_history(
    admin: httpx.AsyncClient, client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await store_message(
        runtime, "wamid.SENT1", timestamp=datetime(2024, 3, 1, 9, tzinfo=UTC), direction="out"
    )
    await deliver(
        client, status_update(status("wamid.SENT1", "delivered"), status("wamid.SENT1", "read"))
    )
    pk = await message_pk(runtime, "wamid.SENT1")

    history = _section(await admin.get(f"/admin/message/details/{pk}"), "history")

    assert re.findall(r"<tr><td>(\w+)</td>", history) == ["delivered", "read"]


@pytest.mark.parametrize(
    ("build", "mime", "element"),
    [
        (image_message, "image/jpeg", '<img class="inbox-media inbox-image" src="{url}"'),
        (audio_message, "audio/ogg", '<audio class="inbox-media inbox-audio" controls'),
        (video_message, "video/mp4", '<video class="inbox-media inbox-video" controls'),
        (document_message, "application/pdf", '<a class="inbox-media inbox-download" href="{url}"'),
    ],
)
async def test_the_details_show_media_inline_from_an_admin_route(
    admin: httpx.AsyncClient,
    client: httpx.AsyncClient,
    runtime: Runtime,
    build: Any,
    mime: str,
    element: str,
) -> None:
    sent = build(mime_type=mime)
    await deliver(client, inbound(sent))
    await store_media(runtime, sent["id"], b"file bytes", mime)
    pk = await message_pk(runtime, sent["id"])
    url = f"http://testserver/admin/message/media/{pk}"
    page = await admin.get(f"/admin/message/details/{pk}")
    assert element.format(url=url) in page.text
    assert url in page.text
    served = await admin.get(url)
    assert served.status_code == 200
    assert served.content == b"file bytes"
    assert served.headers["content-type"].startswith(mime)
    assert "sandbox" in served.headers["content-security-policy"]


async def test_media_not_yet_downloaded_is_said_and_not_served(
    admin: httpx.AsyncClient, client: httpx.AsyncClient, runtime: Runtime
) -> None:
    sent = image_message()
    await deliver(client, inbound(sent))
    pk = await message_pk(runtime, sent["id"])
    page = await admin.get(f"/admin/message/details/{pk}")
    assert "Media is being downloaded from WhatsApp" in page.text
    assert (await admin.get(f"/admin/message/media/{pk}")).status_code == 404
    assert (await admin.get("/admin/message/media/999999")).status_code == 404


async def test_a_location_message_shows_its_place(
    admin: httpx.AsyncClient, client: httpx.AsyncClient, runtime: Runtime
) -> None:
    sent = location_message()
    await deliver(client, inbound(sent))
    pk = await message_pk(runtime, sent["id"])
    page = await admin.get(f"/admin/message/details/{pk}")
    assert str(sent["location"]["latitude"]) in page.text


async def test_notes_are_editable_and_saved(
    admin: httpx.AsyncClient, runtime: Runtime, inbox: dict[str, Any]
) -> None:
    pk = await message_pk(runtime, inbox["first"]["id"])
    form = await admin.get(f"/admin/message/edit/{pk}")
    assert 'name="notes"' in form.text
    saved = await admin.post(
        f"/admin/message/edit/{pk}", data={"notes": "Called back on Monday", "save": "Save"}
    )
    assert saved.status_code == 302
    page = await admin.get(f"/admin/message/details/{pk}")
    assert "Called back on Monday" in page.text


async def test_nothing_but_the_notes_of_a_message_can_be_edited(
    admin: httpx.AsyncClient, runtime: Runtime, inbox: dict[str, Any]
) -> None:
    pk = await message_pk(runtime, inbox["first"]["id"])
    form = await admin.get(f"/admin/message/edit/{pk}")
    fields = set(re.findall(r'<(?:input|textarea|select)[^>]*name="(\w+)"', form.text))
    assert fields == {"notes", "save"}
    forged = {
        "notes": "noted",
        "text_body": "changed",
        "status": "read",
        "message_type": "video",
        "from_number": "1",
        "save": "Save",
    }
    await admin.post(f"/admin/message/edit/{pk}", data=forged)
    async with runtime.sessions() as session:
        message = await session.get(Message, pk)
    assert message is not None
    assert (message.notes, message.text_body, message.status, message.message_type) == (
        "noted",
        "Where is my order?",
        "received",
        "text",
    )
    assert message.from_number == ANNA


async def test_messages_cannot_be_created_or_deleted(
    admin: httpx.AsyncClient, runtime: Runtime, inbox: dict[str, Any]
) -> None:
    pk = await message_pk(runtime, inbox["first"]["id"])
    assert (await admin.get("/admin/message/create")).status_code == 403
    assert (await admin.post("/admin/message/create", data={"notes": "x"})).status_code == 403
    assert (await admin.delete(f"/admin/message/delete?pks={pk}")).status_code == 403
    page = await admin.get("/admin/message/list")
    assert "/admin/message/create" not in page.text
    assert "Delete selected items" not in page.text
    async with runtime.sessions() as session:
        assert await session.get(Message, pk) is not None


async def test_mark_as_read_goes_through_the_mark_read_service(
    admin: httpx.AsyncClient, runtime: Runtime, inbox: dict[str, Any]
) -> None:
    pk = await message_pk(runtime, inbox["first"]["id"])
    response = await admin.post(
        f"/admin/message/action/mark-read?pks={pk}",
        headers={"referer": "http://testserver/admin/message/list?search=order"},
    )
    assert response.status_code == 303
    assert response.headers["location"] == "http://testserver/admin/message/list?search=order"
    again = await admin.post(f"/admin/message/action/mark-read?pks={pk}")
    assert again.status_code == 303
    async with runtime.sessions() as session:
        message = await session.get(Message, pk)
        conversation = (
            await session.execute(select(Conversation).where(Conversation.phone_number == ANNA))
        ).scalar_one()
        receipts = (
            (await session.execute(select(Job).where(Job.kind == kinds.READ_RECEIPT)))
            .scalars()
            .all()
        )
    assert message is not None
    assert message.status == "read"
    assert conversation.unread_count == 1
    assert [job.payload["message_id"] for job in receipts] == [inbox["first"]["id"]]


@pytest.mark.parametrize("pks", ["", "1,abc", "-1"])
async def test_mark_as_read_without_valid_selection_is_a_400(
    admin: httpx.AsyncClient, inbox: dict[str, Any], pks: str
) -> None:
    response = await admin.post(f"/admin/message/action/mark-read?pks={pks}")
    assert response.status_code == 400

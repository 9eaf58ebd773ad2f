"""An authentic delivery is never lost for its content: odd items are rejected one by one.

Every valid message, status and call of a delivery is stored; an item that cannot be
stored is recorded on its event with its JSON path and the reason, and the answer is 200.
No value makes the database fail.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from app.runtime import Runtime
from tests.support import payloads as p
from tests.webhook import stored

MESSAGES = "entry.0.changes.0.value.messages"
STATUSES = "entry.0.changes.0.value.statuses"


async def _deliver_ok(client: httpx.AsyncClient, body: p.Payload | bytes) -> dict[str, Any]:
    response = await p.deliver(client, body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def test_one_bad_message_among_good_ones_costs_only_itself(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    first, last = p.text_message("first"), p.text_message("last")
    bad = p.text_message("bad") | {"timestamp": {"not": "a time"}}
    answer = await _deliver_ok(client, p.inbound(first, bad, last))
    assert (answer["stored_items"], answer["rejected_items"]) == (2, 1)
    assert answer["rejections"][0]["path"] == f"{MESSAGES}.1.timestamp"
    assert {m.message_id for m in await stored.messages(runtime)} == {first["id"], last["id"]}
    (conversation,) = await stored.conversations(runtime)
    assert conversation.message_count == 2


async def test_the_rejection_is_recorded_on_the_event_with_its_reason(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    bad = p.text_message("bad") | {"context": "not an object"}
    answer = await _deliver_ok(client, p.inbound(p.text_message("good"), bad))
    (event,) = await stored.events(runtime)
    assert event.id == answer["event_id"]
    assert (event.stored_items, event.rejected_items) == (1, 1)
    (rejection,) = event.rejections
    assert rejection["path"] == f"{MESSAGES}.1.context"
    assert "dictionary" in rejection["reason"] or "object" in rejection["reason"]


async def test_a_bad_status_among_good_ones_costs_only_itself(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    good = p.status(p.new_wamid(), "delivered")
    bad = p.status(p.new_wamid(), "read")
    del bad["status"]
    answer = await _deliver_ok(client, p.status_update(good, bad))
    assert answer["rejections"] == [{"path": f"{STATUSES}.1.status", "reason": "Field required"}]
    assert [s.message_id for s in await stored.statuses(runtime)] == [good["id"]]


async def test_a_bad_call_among_good_ones_costs_only_itself(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    good = p.call_event(from_="447700900001")
    bad = p.call_event(from_="447700900002") | {"from": ["not", "a", "number"]}
    answer = await _deliver_ok(
        client, p.webhook(p.entry(p.change(p.calls_value(good, bad), "calls")))
    )
    assert (answer["stored_items"], answer["rejected_items"]) == (1, 1)
    assert answer["rejections"][0]["path"] == "entry.0.changes.0.value.calls.1.from"
    (conversation,) = await stored.conversations(runtime)
    assert conversation.phone_number == "447700900001"


async def test_an_entry_or_change_that_is_not_an_object_is_rejected_alone(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    good = p.inbound(p.text_message("good"))
    body = {
        "object": "whatsapp_business_account",
        "entry": ["not an entry", {"id": "1", "changes": [7, good["entry"][0]["changes"][0]]}],
    }
    answer = await _deliver_ok(client, body)
    assert [r["path"] for r in answer["rejections"]] == ["entry.0", "entry.1.changes.0"]
    assert len(await stored.messages(runtime)) == 1


@pytest.mark.parametrize(
    ("override", "path"),
    [
        ({"id": "wamid." + "x" * 300}, f"{MESSAGES}.0.id"),
        ({"from": "9" * 40}, f"{MESSAGES}.0.from"),
        ({"type": "t" * 40}, f"{MESSAGES}.0.type"),
        ({"context": {"id": "w" * 256}}, f"{MESSAGES}.0.context.id"),
        ({"id": ""}, f"{MESSAGES}.0.id"),
    ],
)
async def test_a_value_longer_than_its_column_rejects_its_message(
    client: httpx.AsyncClient, runtime: Runtime, override: p.Payload, path: str
) -> None:
    answer = await _deliver_ok(client, p.inbound(p.text_message("odd") | override))
    (rejection,) = answer["rejections"]
    assert rejection["path"] == path
    assert await stored.only_events_stored(runtime)


async def test_an_over_long_business_number_id_rejects_the_messages_of_its_change(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    payload = p.inbound(p.text_message("one"), p.text_message("two"))
    payload["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] = "1" * 70
    answer = await _deliver_ok(client, payload)
    path = "entry.0.changes.0.value.metadata.phone_number_id"
    assert [r["path"] for r in answer["rejections"]] == [path, path]
    assert "70 characters" in answer["rejections"][0]["reason"]
    assert await stored.only_events_stored(runtime)


async def test_an_over_long_status_id_rejects_the_status(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    answer = await _deliver_ok(client, p.status_update(p.status("w" * 300, "sent")))
    assert answer["rejections"][0]["path"] == f"{STATUSES}.0.id"
    assert await stored.only_events_stored(runtime)


async def test_nul_characters_in_ids_and_numbers_never_fail_the_database(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    odd = p.text_message("x", wamid="wamid.\x00A", from_="1650\x005551234")
    odd["type"] = "te\x00xt"
    answer = await _deliver_ok(
        client, p.inbound(odd, contacts=[p.contact(wa_id="1650\x005551234")])
    )
    assert answer["rejected_items"] == 0
    row = await stored.message(runtime, "wamid.\ufffdA")
    assert (row.from_number, row.message_type) == ("1650\ufffd5551234", "te\ufffdxt")
    assert row.raw == odd


async def test_nul_in_a_status_never_fails_the_database(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    answer = await _deliver_ok(client, p.status_update(p.status("wamid.\x00S", "de\x00livered")))
    assert answer["stored_items"] == 1
    (status,) = await stored.statuses(runtime)
    assert (status.message_id, status.status) == ("wamid.\ufffdS", "de\ufffdlivered")


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999", "1" * 400 + ".5"])
async def test_a_number_no_json_column_can_keep_rejects_its_item(
    client: httpx.AsyncClient, runtime: Runtime, number: str
) -> None:
    good = p.text_message("good")
    odd = p.text_message("odd")
    body = p.encode(p.inbound(good, odd)).replace(
        json.dumps(odd["id"]).encode(),
        json.dumps(odd["id"]).encode() + b', "extra": ' + number.encode(),
    )
    answer = await _deliver_ok(client, body)
    assert answer["rejections"] == [
        {
            "path": f"{MESSAGES}.1.extra",
            "reason": "a number out of range (NaN, Infinity or too large)",
        }
    ]
    assert [m.message_id for m in await stored.messages(runtime)] == [good["id"]]
    (event,) = await stored.events(runtime)
    assert event.raw_body == body


async def test_an_infinite_coordinate_rejects_its_location(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    odd = p.location_message() | {"location": {"latitude": "inf", "longitude": 1.5}}
    answer = await _deliver_ok(client, p.inbound(odd))
    assert answer["rejections"][0]["path"] == f"{MESSAGES}.0.location.latitude"
    assert await stored.only_events_stored(runtime)


async def test_words_that_look_like_odd_numbers_are_stored_as_text(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    text = p.text_message("NaN Infinity 1e999 are only words here")
    answer = await _deliver_ok(client, p.inbound(text))
    assert (answer["stored_items"], answer["rejected_items"]) == (1, 0)
    assert (await stored.message(runtime, text["id"])).text_body == text["text"]["body"]


async def test_a_redelivery_of_a_partly_rejected_delivery_stores_nothing_twice(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    bad = p.text_message("bad") | {"timestamp": []}
    payload = p.inbound(p.text_message("good"), bad)
    await _deliver_ok(client, payload)
    again = await _deliver_ok(client, payload)
    assert (again["new_messages"], again["rejected_items"]) == (0, 1)
    (conversation,) = await stored.conversations(runtime)
    assert conversation.message_count == 1

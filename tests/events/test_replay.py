"""Replay: stored raw events run through today's ingestion again."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from app import cli
from app.events.replay import replay_event, replay_received
from app.events.repository import EventRepository
from app.runtime import Runtime
from tests.support.clock import WEDNESDAY_NOON
from tests.support.commands import command_environment
from tests.support.databases import TestDatabase
from tests.support.payloads import (
    deliver,
    encode,
    image_message,
    inbound,
    status,
    status_update,
    text_message,
)
from tests.webhook import stored

LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


async def _logged_as_rejected_by_an_older_version(runtime: Runtime, body: bytes) -> int:
    """An event as an older version left it: kept byte for byte, its item rejected."""
    async with runtime.sessions() as session:
        (event_id,) = await EventRepository(session).add_many(
            [
                {
                    "raw_body": body,
                    "object_": "whatsapp_business_account",
                    "fields": ["messages"],
                    "received_at": WEDNESDAY_NOON,
                    "stored_items": 0,
                    "rejections": [
                        {"path": "entry.0.changes.0.value.messages.0", "reason": "unknown type"}
                    ],
                }
            ]
        )
        await session.commit()
    return event_id


async def test_replay_stores_what_an_older_version_rejected(runtime: Runtime) -> None:
    message = text_message("recovered")
    event_id = await _logged_as_rejected_by_an_older_version(runtime, encode(inbound(message)))

    replayed = await replay_event(runtime, event_id)

    assert (replayed.new_messages, replayed.rejected_items, replayed.refused) == (1, 0, False)
    assert (await stored.message(runtime, message["id"])).text_body == "recovered"
    (conversation,) = await stored.conversations(runtime)
    assert (conversation.message_count, conversation.unread_count) == (1, 1)
    (event,) = await stored.events(runtime)
    assert (event.stored_items, event.rejected_items, event.rejections) == (1, 0, None)
    assert event.raw_body == encode(inbound(message))


async def _snapshot(runtime: Runtime) -> dict[str, object]:
    return {
        "messages": [(m.message_id, m.status) for m in await stored.messages(runtime)],
        "conversations": [
            (c.message_count, c.unread_count, c.last_message_at)
            for c in await stored.conversations(runtime)
        ],
        "statuses": [(s.message_id, s.status) for s in await stored.statuses(runtime)],
        "jobs": [(j.kind, j.payload) for j in await stored.jobs(runtime)],
        "events": [(e.id, e.stored_items, e.rejected_items) for e in await stored.events(runtime)],
    }


async def test_replaying_what_is_already_stored_changes_nothing(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    assert (await deliver(client, inbound(text_message("hi"), image_message()))).status_code == 200
    assert (await deliver(client, status_update(status("wamid.OUT", "read")))).status_code == 200
    before = await _snapshot(runtime)

    report = await replay_received(runtime, since=LONG_AGO, until=None, rejected_only=False)

    assert (report.events, report.new_messages, report.new_statuses) == (2, 0, 0)
    assert await _snapshot(runtime) == before


async def test_replay_of_rejected_events_only_skips_the_others(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    assert (await deliver(client, inbound(text_message("fine")))).status_code == 200
    await _logged_as_rejected_by_an_older_version(runtime, encode(inbound(text_message("late"))))

    report = await replay_received(runtime, since=LONG_AGO, until=None, rejected_only=True)

    assert (report.events, report.new_messages, report.still_rejected) == (1, 1, 0)


@pytest.fixture
async def rejected_event(runtime: Runtime) -> int:
    """An event an older version could not store, its message now readable."""
    body = encode(inbound(text_message("from the command")))
    return await _logged_as_rejected_by_an_older_version(runtime, body)


def test_replay_command_runs_the_events_since_a_moment(
    database: TestDatabase,
    rejected_event: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    command_environment(monkeypatch, tmp_path, database.url)
    cli.main(["replay", "--since", "2026-03-01", "--rejected"])
    assert "replayed 1 events: 1 new messages, 0 new statuses" in capsys.readouterr().out


def test_replay_command_refuses_a_moment_it_cannot_read(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["replay", "--since", "last tuesday"])
    assert exited.value.code == 2
    assert "not a date or time in ISO 8601: 'last tuesday'" in capsys.readouterr().err

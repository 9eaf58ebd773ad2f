"""Erasure: everything stored about one customer goes, and nothing about anyone else."""

from __future__ import annotations

from pathlib import Path

import anyio
import httpx
import pytest
from sqlalchemy import update

from app import cli
from app.models import Message
from app.runtime import Runtime
from tests.support.commands import command_environment
from tests.support.databases import TestDatabase
from tests.support.payloads import (
    CUSTOMER_NUMBER,
    deliver,
    image_message,
    inbound,
    status,
    status_update,
    text_message,
)
from tests.webhook import stored

OTHER_NUMBER = "919876543210"
# The customer's number as a person might type it.
WRITTEN = "+1 (650) 555-1234"
URL = "/api/whatsapp/customers/"


@pytest.fixture
async def customer_data(client: httpx.AsyncClient, runtime: Runtime, tmp_path: Path) -> Path:
    """The customer wrote a text and a photo (stored as a file), and was sent a message;
    another customer wrote too. Returns the customer's stored file."""
    image = image_message("media-1")
    assert (await deliver(client, inbound(text_message("hi"), image))).status_code == 200
    assert (await deliver(client, status_update(status("wamid.OUT", "read")))).status_code == 200
    other = inbound(text_message("me too", from_=OTHER_NUMBER))
    assert (await deliver(client, other)).status_code == 200
    photo = Path(runtime.settings.media_dir) / "photo.jpg"
    photo.parent.mkdir(parents=True, exist_ok=True)
    photo.write_bytes(b"jpeg")
    async with runtime.sessions() as session:
        await session.execute(
            update(Message)
            .where(Message.message_id == image["id"])
            .values(media_state="stored", media_path="photo.jpg", media_size=4)
        )
        await session.commit()
    return photo


async def test_erasing_a_customer_removes_their_data_everywhere_and_reports_it(
    api: httpx.AsyncClient, runtime: Runtime, customer_data: Path
) -> None:
    response = await api.delete(URL + WRITTEN)

    assert response.status_code == 200, response.text
    assert response.json() == {
        "phone_number": CUSTOMER_NUMBER,
        "conversations": 1,
        "messages": 2,
        "statuses": 1,
        "webhook_events": 2,
        "media_files": 1,
        "jobs": 1,
        "auto_reply_records": 0,
        "idempotency_keys": 0,
    }
    assert not await anyio.Path(customer_data).exists()
    assert [c.phone_number for c in await stored.conversations(runtime)] == [OTHER_NUMBER]
    assert [m.from_number for m in await stored.messages(runtime)] == [OTHER_NUMBER]
    assert await stored.statuses(runtime) == []
    assert await stored.jobs(runtime) == []
    (event,) = await stored.events(runtime)
    assert CUSTOMER_NUMBER.encode() not in event.raw_body


async def test_erasing_again_removes_nothing_more(
    api: httpx.AsyncClient, customer_data: Path
) -> None:
    assert (await api.delete(URL + CUSTOMER_NUMBER)).status_code == 200
    again = (await api.delete(URL + CUSTOMER_NUMBER)).json()
    assert {k: v for k, v in again.items() if k != "phone_number"} == dict.fromkeys(
        [k for k in again if k != "phone_number"], 0
    )


async def test_a_number_that_is_no_number_is_refused_and_nothing_is_removed(
    api: httpx.AsyncClient, runtime: Runtime, customer_data: Path
) -> None:
    response = await api.delete(URL + "not-a-number")
    assert response.status_code == 422
    assert response.json()["error"] == "validation_error"
    assert "not a phone number" in response.json()["detail"]
    assert len(await stored.messages(runtime)) == 3


async def test_erasure_needs_an_api_key(client: httpx.AsyncClient, customer_data: Path) -> None:
    assert (await client.delete(URL + CUSTOMER_NUMBER)).status_code == 401


def test_erase_command_reports_what_it_removed(
    database: TestDatabase,
    customer_data: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    command_environment(monkeypatch, tmp_path, database.url, MEDIA_DIR=str(customer_data.parent))
    cli.main(["erase", "--phone", WRITTEN])
    out = capsys.readouterr().out
    assert out.startswith(f"erased {CUSTOMER_NUMBER}: 1 conversations, 2 messages, 1 statuses")
    assert "1 media files" in out
    assert not customer_data.exists()


def test_erase_command_refuses_a_number_that_is_no_number(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["erase", "--phone", "abc"])
    assert exited.value.code == 2
    assert "not a phone number" in capsys.readouterr().err

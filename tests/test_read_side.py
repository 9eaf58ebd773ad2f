"""The read side: lists built straight from rows say what the models say, the phone
filter is one statement, and PostgreSQL answers the lists and the seed's SQL from indexes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.messages.repository import MessageFilters, MessageRepository
from app.messages.schemas import MessageList, MessageOut
from app.messages.service import LISTED_COLUMNS
from app.pagination import Cursor
from app.runtime import Runtime
from tests.messages.store import CUSTOMER, at, store_conversation, store_message
from tests.test_migrations import SEED_ANALYTICS_SQL

MESSAGES = "/api/whatsapp/messages/"
CONVERSATIONS = "/api/whatsapp/conversations/"
MESSAGES_TABLE = "whatsapp_whatsappmessage"


async def store_varied_messages(runtime: Runtime) -> None:
    """Messages with every kind of column filled: media, a location, errors, odd text."""
    await store_message(
        runtime,
        "wamid.image",
        timestamp=at(0),
        message_type="image",
        caption="Ünïcode ✓ caption",
        media_id="media.1",
        mime_type="image/jpeg",
        media_state="stored",
        media_size=12345,
        media_sha256="ab" * 32,
        media_path="/srv/media/secret/path.jpg",
        raw={"id": "wamid.image", "image": {"id": "media.1", "caption": "Ünïcode ✓"}},
    )
    await store_message(
        runtime,
        "wamid.location",
        timestamp=at(1.000001),
        message_type="location",
        latitude=12.971598,
        longitude=-77.594566,
        location_name="Office",
        location_address="1 MG Road",
    )
    await store_message(
        runtime,
        "wamid.failed",
        timestamp=at(2),
        direction="out",
        status="failed",
        status_at=at(3),
        errors=[{"code": 131047, "title": "Re-engagement message"}],
        context_message_id="wamid.image",
        notes="called back",
    )
    await store_conversation(runtime, "15550000009", contact_name=None)


async def test_listed_messages_are_exactly_what_the_message_route_returns(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    await store_varied_messages(runtime)

    listed = (await api.get(MESSAGES)).json()

    assert [m["message_id"] for m in listed["messages"]] == [
        "wamid.failed",
        "wamid.location",
        "wamid.image",
    ]
    for message in listed["messages"]:
        single = (await api.get(MESSAGES + message["message_id"])).json()
        assert message == single
    assert list(listed["messages"][0]) == list(MessageOut.model_fields)
    MessageList.model_validate(listed)


async def test_listed_messages_never_show_where_a_file_lies_on_disk(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    await store_varied_messages(runtime)

    response = await api.get(MESSAGES, params={"type": "image"})

    assert "/srv/media" not in response.text
    assert "media_path" not in response.json()["messages"][0]


async def test_listed_conversations_are_exactly_what_the_conversation_route_returns(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    await store_varied_messages(runtime)

    listed = (await api.get(CONVERSATIONS)).json()

    assert listed["count"] == 2
    for conversation in listed["conversations"]:
        single = (await api.get(f"{CONVERSATIONS}{conversation['id']}")).json()
        # The detail adds the conversation's latest calls to what the list shows.
        assert single.pop("calls") == []
        assert conversation == single


@contextmanager
def selects(runtime: Runtime) -> Iterator[list[str]]:
    """The SELECT statements sent to the database within the block."""
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            sent.append(statement)

    event.listen(runtime.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(runtime.engine.sync_engine, "before_cursor_execute", record)


async def test_phone_filter_is_answered_by_one_statement(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    await store_message(runtime, "wamid.in", timestamp=at(0))
    await store_message(runtime, "wamid.out", timestamp=at(1), direction="out")

    with selects(runtime) as sent:
        response = await api.get(MESSAGES, params={"phone": "+91 98765 43210"})

    assert [m["message_id"] for m in response.json()["messages"]] == ["wamid.out", "wamid.in"]
    assert len(sent) == 1


async def plan(session: AsyncSession, sql: str, parameters: Any = None) -> str:
    """PostgreSQL's plan of `sql`, chosen as it would be on a large table.

    With a handful of rows a sequential scan is cheapest, so the planner is told to
    avoid one wherever an index can do; where none can, it still scans sequentially,
    and the plan says so.
    """
    await session.execute(text("SET LOCAL enable_seqscan = off"))
    connection = await session.connection()
    result = await connection.exec_driver_sql(f"EXPLAIN {sql}", parameters or ())
    return "\n".join(row[0] for row in result)


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_seed_analytics_sql_is_answered_from_an_index_alone(
    runtime: Runtime, session: AsyncSession
) -> None:
    for minute, customer in enumerate([CUSTOMER, CUSTOMER, "447700900123"]):
        await store_message(runtime, f"wamid.{minute}", timestamp=at(minute), customer=customer)

    found = await plan(session, SEED_ANALYTICS_SQL)

    assert f"Index Only Scan using ix_message_from_number_timestamp on {MESSAGES_TABLE}" in found


async def _statement_of(session: AsyncSession, **filters: Any) -> tuple[str, Any]:
    """The SQL (and parameters) that the message list sends for these filters."""
    captured: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        captured.append((statement, parameters))

    connection = await session.connection()
    engine = connection.engine.sync_engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        after = Cursor(at=at(5), id=10)
        await MessageRepository(session).list_rows_newest_first(
            MessageFilters(**filters), LISTED_COLUMNS, limit=51, after=after
        )
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    (sent,) = captured
    return sent


@pytest.mark.parametrize("backend", ["postgresql"])
@pytest.mark.parametrize(
    "filters",
    [{}, {"phone_number": CUSTOMER}, {"conversation_id": 1}],
    ids=["all", "phone", "conversation"],
)
async def test_message_lists_read_messages_through_indexes(
    runtime: Runtime, session: AsyncSession, filters: dict[str, Any]
) -> None:
    await store_message(runtime, "wamid.1", timestamp=at(0))
    statement, parameters = await _statement_of(session, **filters)

    found = await plan(session, statement, parameters)

    assert f"Seq Scan on {MESSAGES_TABLE}" not in found
    assert "Index" in found

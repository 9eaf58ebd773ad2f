"""Deliveries that arrive together share a transaction, and 200 still means committed.

A failed shared transaction never fails a delivery for another one's fault: the others
are written again on their own.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text

from app.config import Settings
from app.runtime import Runtime
from app.webhook import service
from app.webhook.group_commit import GroupCommit
from app.webhook.service import Delivery, IngestResult, Refused
from tests.support import payloads as p
from tests.support.clock import FixedClock
from tests.webhook import stored

POISON = "wamid.POISON"


async def _transactions_of_events(runtime: Runtime) -> int:
    """How many transactions wrote the event log (PostgreSQL's xmin of each row)."""
    async with runtime.sessions() as session:
        result = await session.execute(
            text("SELECT count(DISTINCT xmin::text) FROM whatsapp_webhookevent")
        )
        return int(result.scalar_one())


# xmin, which tells the transaction that wrote a row, is PostgreSQL's.
@pytest.mark.parametrize("backend", ["postgresql"])
async def test_deliveries_that_arrive_together_share_a_transaction(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    payloads = [p.inbound(p.text_message(f"n{n}", from_=f"9190000000{n:02d}")) for n in range(20)]
    responses = await asyncio.gather(*(p.deliver(client, body) for body in payloads))
    assert [r.status_code for r in responses] == [200] * 20
    assert len(await stored.messages(runtime)) == 20
    assert await _transactions_of_events(runtime) < 20


class _RecordingGroups(GroupCommit):
    """Group commit that notes how many deliveries each transaction wrote."""

    groups: list[int]

    async def _write(self, deliveries: list[Delivery]) -> list[IngestResult | Refused]:
        self.groups.append(len(deliveries))
        return await super()._write(deliveries)


async def test_a_delivery_read_a_moment_after_another_joins_its_transaction(
    runtime: Runtime, settings: Settings, clock: FixedClock
) -> None:
    ingest = _RecordingGroups(runtime.sessions, settings, runtime.outage)
    ingest.groups = []

    async def deliver(n: int, turns_later: int) -> IngestResult | Refused:
        for _ in range(turns_later):
            await asyncio.sleep(0)
        body = p.encode(p.inbound(p.text_message(f"n{n}", from_=f"9190000002{n:02d}")))
        return await ingest.submit(
            await service.read(runtime.body_reader, settings, body, now=clock())
        )

    # The second as a request whose bytes were read while the first was being submitted.
    outcomes = await asyncio.gather(deliver(1, 0), deliver(2, 2))
    assert all(isinstance(o, IngestResult) and len(o.messages) == 1 for o in outcomes)
    assert ingest.groups == [2]


@pytest.fixture
async def poisoned(runtime: Runtime, backend: str) -> AsyncIterator[None]:
    """A trigger that makes the database refuse the message POISON, as a fault would."""
    if backend == "postgresql":
        create = [
            "CREATE FUNCTION refuse_poison() RETURNS trigger AS $$ BEGIN "
            f"IF NEW.message_id = '{POISON}' THEN RAISE EXCEPTION 'poisoned'; END IF; "
            "RETURN NEW; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER refuse_poison BEFORE INSERT ON whatsapp_whatsappmessage "
            "FOR EACH ROW EXECUTE FUNCTION refuse_poison()",
        ]
        drop = [
            "DROP TRIGGER refuse_poison ON whatsapp_whatsappmessage",
            "DROP FUNCTION refuse_poison()",
        ]
    else:
        create = [
            "CREATE TRIGGER refuse_poison BEFORE INSERT ON whatsapp_whatsappmessage "
            f"WHEN NEW.message_id = '{POISON}' BEGIN SELECT RAISE(ABORT, 'poisoned'); END"
        ]
        drop = ["DROP TRIGGER refuse_poison"]
    async with runtime.engine.begin() as connection:
        for statement in create:
            await connection.execute(text(statement))
    yield
    async with runtime.engine.begin() as connection:
        for statement in drop:
            await connection.execute(text(statement))


async def test_a_delivery_the_database_refuses_fails_alone(
    client: httpx.AsyncClient, runtime: Runtime, poisoned: None
) -> None:
    good = [p.inbound(p.text_message(f"n{n}", from_=f"9190000001{n:02d}")) for n in range(6)]
    bad = p.inbound(p.text_message("poison", wamid=POISON))
    bodies = [*good[:3], bad, *good[3:]]
    responses = await asyncio.gather(*(p.deliver(client, body) for body in bodies))
    assert [r.status_code for r in responses] == [200, 200, 200, 503, 200, 200, 200]
    assert responses[3].json()["error"]
    assert {m.text_body for m in await stored.messages(runtime)} == {f"n{n}" for n in range(6)}
    assert len(await stored.events(runtime)) == 6


async def test_each_delivery_of_a_shared_transaction_gets_its_own_answer(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    shared = p.text_message("in both")
    first = p.inbound(shared, p.text_message("only first"))
    second = p.inbound(shared, p.text_message("only second"))
    answers = [
        r.json() for r in await asyncio.gather(*(p.deliver(client, b) for b in (first, second)))
    ]
    # Whichever is written first has the shared message as new; the other does not.
    assert sorted(a["new_messages"] for a in answers) == [1, 2]
    assert answers[0]["event_id"] != answers[1]["event_id"]
    (conversation,) = await stored.conversations(runtime)
    assert conversation.message_count == 3

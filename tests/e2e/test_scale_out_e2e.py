"""Scale-out on PostgreSQL: two `serve` and two `worker` processes on one database.

Meta delivers every webhook twice, and here each delivery's two copies go to the two
web processes, as they would behind a load balancer. 200 customers write 10 messages
each (2,000 messages, every fifth an image), packed in signed deliveries of one to eight
messages from any customers. All the POSTs are sent 16 at a time in a shuffled order
(fixed seed), so a delivery's two copies sometimes race and sometimes follow each other.
A greeting is configured, so each conversation's first message queues one auto-reply,
and each image queues one media download; the two worker processes share those jobs.

Afterwards each message is stored once, each counter is exact, each job ran once, and
Meta (the fake Graph API) saw each download and each greeting once. The same test runs
with the four processes connected straight to PostgreSQL and through PgBouncer in
transaction pooling mode (DATABASE_POOLER=pgbouncer).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import Executable, func, select

from app.db import create_engine
from app.jobs import kinds
from app.models import Conversation, Direction, Job, JobState, MediaState, Message
from tests.conftest import signed_headers
from tests.e2e.conftest import service_environment
from tests.support.databases import TestDatabase
from tests.support.fake_graph import MEDIA_DOWNLOAD, MEDIA_INFO, FakeGraph
from tests.support.payloads import WEBHOOK_URL, encode, image_message, inbound, text_message
from tests.support.pgbouncer import PgBouncer
from tests.support.processes import ServiceProcess, start_server

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("backend", ["postgresql"])]

CUSTOMERS = [f"1650600{n:04d}" for n in range(200)]
MESSAGES_PER_CUSTOMER = 10
IMAGE_EVERY = 5  # a customer's 5th and 10th messages are images
DELIVERY_SIZES = (1, 1, 1, 2, 3, 5, 8)
SENDERS = 16
SEED = 20_000
GREETING = "Welcome to Acme! We answer within the hour."
JOBS_DEADLINE_SECONDS = 60.0

INBOUND_MESSAGES = len(CUSTOMERS) * MESSAGES_PER_CUSTOMER
IMAGES = len(CUSTOMERS) * (MESSAGES_PER_CUSTOMER // IMAGE_EVERY)


@dataclass
class Traffic:
    """What the customers sent: the signed bodies, and what each message was."""

    bodies: list[bytes] = field(default_factory=list)
    customer_of: dict[str, str] = field(default_factory=dict)  # wamid -> customer
    media_of: dict[str, str] = field(default_factory=dict)  # image wamid -> media id


def _traffic(fake_graph: FakeGraph, rng: random.Random) -> Traffic:
    """2,000 messages of 200 customers, shuffled into deliveries of 1 to 8 messages."""
    traffic = Traffic()
    messages: list[dict[str, Any]] = []
    for customer in CUSTOMERS:
        for n in range(1, MESSAGES_PER_CUSTOMER + 1):
            if n % IMAGE_EVERY == 0:
                media = fake_graph.add_media(f"photo {n} of {customer}".encode(), "image/jpeg")
                message = image_message(media.media_id, from_=customer)
                traffic.media_of[message["id"]] = media.media_id
            else:
                message = text_message(f"message {n} of {customer}", from_=customer)
            traffic.customer_of[message["id"]] = customer
            messages.append(message)
    rng.shuffle(messages)
    while messages:
        size = rng.choice(DELIVERY_SIZES)
        traffic.bodies.append(encode(inbound(*messages[:size])))
        del messages[:size]
    return traffic


async def _deliver_to_both(
    urls: list[str], bodies: list[bytes], rng: random.Random
) -> Counter[int]:
    """POST every body once to each web process, SENDERS at a time in a shuffled order;
    the statuses the web processes answered, counted."""
    posts = [(url, body) for body in bodies for url in urls]
    rng.shuffle(posts)
    pending = iter(posts)  # shared: each sender takes the next post when it is free
    statuses: Counter[int] = Counter()

    async def sender(client: httpx.AsyncClient) -> None:
        for url, body in pending:
            response = await client.post(
                f"{url}{WEBHOOK_URL}", content=body, headers=signed_headers(body)
            )
            statuses[response.status_code] += 1

    async with httpx.AsyncClient(timeout=30) as client:
        await asyncio.gather(*(sender(client) for _ in range(SENDERS)))
    return statuses


async def _query(url: str, query: Executable) -> list[Any]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return list((await connection.execute(query)).all())
    finally:
        await engine.dispose()


def _rows(database: TestDatabase, query: Executable) -> list[Any]:
    """The rows of a query on the test's database (straight to PostgreSQL)."""
    return asyncio.run(_query(database.url, query))


def _wait_until_jobs_finish(database: TestDatabase, expected: int) -> None:
    """Poll the jobs table until `expected` jobs of the traffic exist and none is queued or
    running (the workers' own periodic retention job is not the traffic's)."""
    unfinished_jobs = func.count().filter(Job.state.in_([JobState.QUEUED, JobState.RUNNING]))
    query = select(func.count(), unfinished_jobs).where(Job.kind != kinds.RETENTION)
    deadline = time.monotonic() + JOBS_DEADLINE_SECONDS
    while True:
        [(total, unfinished)] = _rows(database, query)
        if total == expected and unfinished == 0:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"jobs not finished in {JOBS_DEADLINE_SECONDS} s: {unfinished} of {total}")
        time.sleep(0.1)


@pytest.fixture(params=["direct", "pgbouncer"])
def database_env(
    request: pytest.FixtureRequest, fresh_database: TestDatabase
) -> Iterator[dict[str, str]]:
    """How the four processes reach the database: straight, or through PgBouncer."""
    if request.param == "direct":
        yield {"DATABASE_URL": fresh_database.url}
        return
    with PgBouncer.start() as bouncer:
        yield {"DATABASE_URL": bouncer.url(fresh_database.name), "DATABASE_POOLER": "pgbouncer"}


def test_two_web_and_two_worker_processes_store_redeliveries_once_and_run_each_job_once(
    fresh_database: TestDatabase,
    database_env: dict[str, str],
    fake_graph: FakeGraph,
    tmp_path: Path,
) -> None:
    env = {
        **service_environment(fresh_database.url, fake_graph, tmp_path),
        **database_env,
        "WORKER_ENABLED": "false",
        "WORKER_POLL_SECONDS": "0.1",
        "GREETING_MESSAGE": GREETING,
    }
    rng = random.Random(SEED)
    traffic = _traffic(fake_graph, rng)
    servers: list[ServiceProcess] = []
    workers: list[ServiceProcess] = []
    try:
        urls = []
        for n in (1, 2):
            server, url = start_server(env, tmp_path / f"serve-{n}.log")
            servers.append(server)
            urls.append(url)
        for n in (1, 2):
            workers.append(ServiceProcess(["worker"], env, tmp_path / f"worker-{n}.log").start())

        statuses = asyncio.run(_deliver_to_both(urls, traffic.bodies, rng))
        assert statuses == {200: 2 * len(traffic.bodies)}, statuses
        _wait_until_jobs_finish(fresh_database, expected=IMAGES + len(CUSTOMERS))
    finally:
        worker_exits = [worker.stop() for worker in workers]
        for server in servers:
            server.stop()
    # SIGTERM: the workers finish what they hold and exit cleanly.
    assert worker_exits == [0, 0], [worker.log()[-2000:] for worker in workers]

    # Every message once, in its customer's conversation.
    inbound_rows = _rows(
        fresh_database,
        select(Message.message_id, Conversation.phone_number, Message.media_state)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(Message.direction == Direction.INBOUND),
    )
    assert len(inbound_rows) == INBOUND_MESSAGES
    assert {wamid: customer for wamid, customer, _ in inbound_rows} == traffic.customer_of
    assert {wamid: state for wamid, _, state in inbound_rows if state is not None} == dict.fromkeys(
        traffic.media_of, MediaState.STORED
    )

    # One greeting per conversation, stored as its one outbound message.
    outbound_rows = _rows(
        fresh_database,
        select(Message.to_number, Message.text_body).where(Message.direction == Direction.OUTBOUND),
    )
    assert sorted(outbound_rows) == [(customer, GREETING) for customer in CUSTOMERS]

    # Exact counters: ten messages in and the greeting out each; the ten unread.
    conversations = _rows(
        fresh_database,
        select(Conversation.phone_number, Conversation.message_count, Conversation.unread_count),
    )
    assert sorted(conversations) == [
        (customer, MESSAGES_PER_CUSTOMER + 1, MESSAGES_PER_CUSTOMER) for customer in CUSTOMERS
    ]

    # Each job ran once: one download per image, one greeting per conversation.
    jobs = _rows(
        fresh_database,
        select(Job.kind, Job.payload, Job.state, Job.attempts).where(Job.kind != kinds.RETENTION),
    )
    assert {(state, attempts) for _, _, state, attempts in jobs} == {(JobState.DONE, 1)}
    downloads = Counter(
        payload["message_id"] for kind, payload, _, _ in jobs if kind == kinds.MEDIA_DOWNLOAD
    )
    assert downloads == dict.fromkeys(traffic.media_of, 1)
    greetings = [payload for kind, payload, _, _ in jobs if kind == kinds.AUTO_REPLY]
    assert len({greeting["conversation_id"] for greeting in greetings}) == len(CUSTOMERS)
    assert len(greetings) == len(CUSTOMERS)
    assert {greeting["text"] for greeting in greetings} == {GREETING}
    # Both worker processes took part, and together logged each job done once.
    done = [
        sum(
            "done on attempt 1" in line and f"({kinds.RETENTION})" not in line
            for line in process.log().splitlines()
        )
        for process in workers
    ]
    assert all(done), done
    assert sum(done) == len(jobs)

    # Meta saw each media fetched once and each customer greeted once.
    media_ids = set(traffic.media_of.values())
    infos = Counter(
        urlsplit(r.path).path.rsplit("/", 1)[1] for r in fake_graph.requests(MEDIA_INFO)
    )
    assert infos == dict.fromkeys(media_ids, 1)
    fetched = Counter(
        parse_qs(urlsplit(r.path).query)["mid"][0] for r in fake_graph.requests(MEDIA_DOWNLOAD)
    )
    assert fetched == dict.fromkeys(media_ids, 1)
    sends = fake_graph.sent_messages()
    assert Counter(send["to"] for send in sends) == dict.fromkeys(CUSTOMERS, 1)
    assert {send["text"]["body"] for send in sends} == {GREETING}

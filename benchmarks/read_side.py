"""Answer times of the read endpoints with a million messages, on PostgreSQL.

Creates a fresh database, loads 1,000,000 messages in 50,000 conversations with
server-side SQL (generate_series; timestamps over six months, both directions, every
type and status, real-looking numbers, names and texts), runs ANALYZE, starts
`whatsapp-inbox serve` (two web processes by default), and measures with `wrk` (16
connections by default) the p50 and p99 of: one customer's messages (`?phone=`, 20 of
them), the first page of conversations, and the second page of each list (`?cursor=`
from the first page's next_cursor). It also prints PostgreSQL's plan of every statement
those requests issue (captured from the service's own code) and the seed's analytics SQL.

Exits 1 when a p99 is over the limit (20 ms) or a plan reads the messages table with a
sequential scan.

    .venv/bin/python -m benchmarks.read_side            # apt-get install wrk
    .venv/bin/python -m benchmarks.read_side --messages 200000 --conversations 10000
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from app.conversations.schemas import ConversationListParams
from app.conversations.service import list_conversations
from app.db import create_engine, session_factory
from app.messages.schemas import MessageListParams
from app.messages.service import list_messages
from tests.support.databases import create_database
from tests.support.processes import running_server

API_KEY = "benchmark-api-key"
P99_LIMIT_MS = 20.0
MESSAGES_TABLE = "whatsapp_whatsappmessage"
SEED_ANALYTICS_SQL = (
    "SELECT from_number, COUNT(*) as msg_count, MAX(timestamp) as last_message "
    "FROM whatsapp_whatsappmessage GROUP BY from_number ORDER BY last_message DESC"
)

# Conversation n (1-based) is customer 9198<n, 8 digits>; every message of it belongs to it.
LOAD_CONVERSATIONS = """
INSERT INTO whatsapp_whatsappconversation (id, phone_number_id, phone_number, user_id,
    contact_name, notes, message_count, unread_count, created_at, updated_at)
SELECT n, '106540352242922', '9198' || lpad(n::text, 8, '0'), NULL,
    (ARRAY['Asha', 'Ravi', 'John', 'Maria', 'Wei', 'Fatima'])[1 + n % 6] || ' ' || n,
    '', 0, 0, now() - interval '200 days', now()
FROM generate_series(1, $1::int) AS n
"""

# Message m belongs to conversation 1 + m % conversations; a third are outbound.
LOAD_MESSAGES = """
INSERT INTO whatsapp_whatsappmessage (message_id, conversation_id, direction,
    phone_number_id, from_number, from_name, to_number, message_type, text_body, caption,
    media_id, mime_type, media_state, timestamp, status, status_at, notes, raw, created_at)
SELECT 'wamid.bench' || m, c, d, '106540352242922',
    CASE d WHEN 'in' THEN customer ELSE '15550001111' END,
    CASE d WHEN 'in' THEN 'Customer ' || c END,
    CASE d WHEN 'in' THEN '15550001111' ELSE customer END,
    type,
    CASE WHEN type = 'text' THEN 'Hi, I need help with my order #' || m END,
    CASE WHEN type = 'image' THEN 'photo ' || m END,
    CASE WHEN type IN ('image', 'document') THEN 'media' || m END,
    CASE type WHEN 'image' THEN 'image/jpeg' WHEN 'document' THEN 'application/pdf' END,
    CASE WHEN type IN ('image', 'document') THEN 'stored' END,
    at,
    CASE d WHEN 'in' THEN (ARRAY['received', 'read'])[1 + m % 2]
        ELSE (ARRAY['sent', 'delivered', 'read'])[1 + m % 3] END,
    at + interval '1 minute', '',
    json_build_object('from', customer, 'id', 'wamid.bench' || m,
        'timestamp', extract(epoch FROM at)::bigint::text, 'type', type,
        'text', json_build_object('body', 'Hi, I need help with my order #' || m)),
    at + interval '1 second'
FROM (
    SELECT m, 1 + m % $2::int AS c,
        CASE WHEN m % 3 = 0 THEN 'out' ELSE 'in' END AS d,
        '9198' || lpad((1 + m % $2::int)::text, 8, '0') AS customer,
        (ARRAY['text', 'text', 'text', 'text', 'image', 'document', 'location', 'sticker'])
            [1 + (m / 7) % 8] AS type,
        now() - interval '180 days' * ((m::bigint * 7919) % $1::int)::float8 / $1::int AS at
    FROM generate_series(1, $1::int) AS m
) AS generated
"""

# Counters and last activity exactly as the service would have kept them.
UPDATE_CONVERSATIONS = """
UPDATE whatsapp_whatsappconversation AS c
SET message_count = s.n, unread_count = s.unread, last_message_at = s.last_at,
    last_inbound_at = s.last_in
FROM (
    SELECT conversation_id, count(*) AS n, count(*) FILTER (WHERE status = 'received') AS unread,
        max(timestamp) AS last_at, max(timestamp) FILTER (WHERE direction = 'in') AS last_in
    FROM whatsapp_whatsappmessage GROUP BY conversation_id
) AS s
WHERE c.id = s.conversation_id
"""


async def load(url: str, messages: int, conversations: int) -> None:
    """Fill the database at `url` (empty, migrated) and ANALYZE it."""
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await connection.execute(LOAD_CONVERSATIONS, conversations)
        await connection.execute(
            "SELECT setval(pg_get_serial_sequence('whatsapp_whatsappconversation', 'id'), $1)",
            conversations,
        )
        await connection.execute(LOAD_MESSAGES, messages, conversations)
        await connection.execute(UPDATE_CONVERSATIONS)
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()


@dataclass(frozen=True)
class Target:
    """One request the benchmark repeats, and the service call that issues its SQL."""

    name: str
    path: str
    issue: Callable[[AsyncSession], Awaitable[Any]]


def _api(path: str) -> str:
    return f"/api/whatsapp/{path}"


def first_cursors(url: str) -> tuple[str, str]:
    """The next_cursor of the first page of messages and of conversations."""
    headers = {"Authorization": f"Bearer {API_KEY}"}
    with httpx.Client(base_url=url, headers=headers, timeout=30) as http:
        messages = http.get(_api("messages/")).raise_for_status().json()
        conversations = http.get(_api("conversations/")).raise_for_status().json()
    return messages["next_cursor"], conversations["next_cursor"]


def targets(phone: str, message_cursor: str, conversation_cursor: str) -> list[Target]:
    """The requests measured: a customer's messages, conversations, and two second pages."""
    return [
        Target(
            "messages ?phone=",
            _api(f"messages/?phone={phone}"),
            lambda s: list_messages(s, MessageListParams(phone=phone)),
        ),
        Target(
            "messages page 2",
            _api(f"messages/?cursor={message_cursor}"),
            lambda s: list_messages(s, MessageListParams(cursor=message_cursor)),
        ),
        Target(
            "conversations page 1",
            _api("conversations/"),
            lambda s: list_conversations(s, ConversationListParams()),
        ),
        Target(
            "conversations page 2",
            _api(f"conversations/?cursor={conversation_cursor}"),
            lambda s: list_conversations(s, ConversationListParams(cursor=conversation_cursor)),
        ),
    ]


async def _statements(url: str, target: Target) -> list[tuple[str, Any]]:
    """The SQL (and parameters) that the service sends for `target`."""
    engine = create_engine(url)
    captured: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        captured.append((statement, parameters))

    try:
        async with session_factory(engine)() as session:
            await session.connection()  # the pool's ping is not the request's SQL
            event.listen(engine.sync_engine, "before_cursor_execute", capture)
            await target.issue(session)
            event.remove(engine.sync_engine, "before_cursor_execute", capture)
    finally:
        await engine.dispose()
    return captured


async def explain(url: str, statement: str, parameters: Any = ()) -> str:
    """PostgreSQL's plan of `statement` with these parameters."""
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            result = await connection.exec_driver_sql(f"EXPLAIN {statement}", parameters)
            return "\n".join(row[0] for row in result)
    finally:
        await engine.dispose()


def reads_messages_sequentially(plan: str) -> bool:
    """True when the plan scans the whole messages table."""
    return re.search(rf"Seq Scan on {MESSAGES_TABLE}\b", plan) is not None


async def check_plans(url: str, measured: list[Target]) -> list[str]:
    """Print the plan of every statement the targets issue and of the seed's SQL;
    return the names of those that read the messages table with a sequential scan."""
    plans: list[tuple[str, str, str]] = []
    for target in measured:
        for statement, parameters in await _statements(url, target):
            plans.append((target.name, statement, await explain(url, statement, parameters)))
    plans.append(("seed analytics SQL", SEED_ANALYTICS_SQL, await explain(url, SEED_ANALYTICS_SQL)))
    failing = []
    for name, statement, plan in plans:
        print(f"\n--- {name}\n{' '.join(statement.split())}\n{plan}")
        if reads_messages_sequentially(plan):
            failing.append(name)
    return failing


WRK_SCRIPT = """
wrk.headers["Authorization"] = "Bearer {key}"
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %d %f %f\\n", summary.requests,
    summary.errors.status, summary.errors.connect + summary.errors.read
      + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"""


@dataclass(frozen=True)
class Figures:
    """What wrk measured for one target."""

    requests: int
    errors: int
    p50_ms: float
    p99_ms: float


def measure(url: str, path: str, connections: int, seconds: int, script: Path) -> Figures:
    """Run wrk against `path` with `connections` open connections for `seconds`."""
    command = ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s"]
    output = subprocess.run(
        [*command, "-s", str(script), url + path],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    found = re.search(r"^RESULT (\d+) (\d+) (\d+) (\S+) (\S+)$", output, re.MULTILINE)
    if found is None:
        raise RuntimeError(f"wrk printed no result:\n{output}")
    requests, status_errors, socket_errors = (int(found.group(i)) for i in (1, 2, 3))
    return Figures(
        requests, status_errors + socket_errors, float(found.group(4)), float(found.group(5))
    )


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--conversations", type=int, default=50_000)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=int, default=10, help="wrk's run per request")
    parser.add_argument(
        "--workers", type=int, default=2, help="web processes of serve (two suit 2 cores)"
    )
    return parser.parse_args()


def _report(name: str, figures: Figures) -> bool:
    ok = figures.p99_ms <= P99_LIMIT_MS and figures.errors == 0
    print(
        f"{name:22} {figures.requests:7d} requests, {figures.errors} errors: "
        f"p50 {figures.p50_ms:6.1f} ms, p99 {figures.p99_ms:6.1f} ms"
        f"{'' if ok else f'  (over {P99_LIMIT_MS:.0f} ms or errors)'}"
    )
    return ok


def run(args: argparse.Namespace, directory: Path) -> bool:
    """Load, serve, explain and measure; True when every limit holds."""
    database = create_database("postgresql", directory)
    try:
        started = time.perf_counter()
        asyncio.run(load(database.url, args.messages, args.conversations))
        print(
            f"loaded {args.messages:,} messages in {args.conversations:,} conversations "
            f"in {time.perf_counter() - started:.0f} s"
        )
        env = {
            "ENVIRONMENT": "test",
            "DATABASE_URL": database.url,
            "API_KEYS": API_KEY,
            "WORKER_ENABLED": "false",
            "LOG_LEVEL": "warning",
            "WEB_CONCURRENCY": str(args.workers),
        }
        script = directory / "auth.lua"
        script.write_text(WRK_SCRIPT.format(key=API_KEY))
        with running_server(env, directory / "server.log") as url:
            # Customer 1 has messages / conversations of them, like every customer.
            measured = targets("919800000001", *first_cursors(url))
            failing = asyncio.run(check_plans(database.url, measured))
            print(f"\n{args.connections} connections, {args.seconds} s each:")
            results = [
                _report(t.name, measure(url, t.path, args.connections, args.seconds, script))
                for t in measured
            ]
    finally:
        database.drop()
    if failing:
        print(f"sequential scans of {MESSAGES_TABLE} in: {', '.join(failing)}")
    return all(results) and not failing


def main() -> None:
    """Run the benchmark, print its figures, and exit 1 when a limit is not met."""
    args = _arguments()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install -y wrk")
    with tempfile.TemporaryDirectory() as directory:
        ok = run(args, Path(directory))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

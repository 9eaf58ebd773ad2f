"""The schema: migrations match the models on both databases, and the seed's SQL runs."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection

from app.conversations.repository import ConversationRepository
from app.db import Base, create_engine
from app.messages.repository import MessageRepository
from app.migrate import alembic_config
from app.runtime import Runtime
from tests.support.databases import TestDatabase, create_database

# From the seed design ("Database Query (Best for analytics)"), as written there.
SEED_ANALYTICS_SQL = """
SELECT
  from_number,
  COUNT(*) as msg_count,
  MAX(timestamp) as last_message
FROM whatsapp_whatsappmessage
GROUP BY from_number
ORDER BY last_message DESC;
"""


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_migrations_create_exactly_the_models(database: TestDatabase) -> None:
    engine = create_engine(database.url)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(_differences) == []
    finally:
        await engine.dispose()


def test_migrations_downgrade_to_nothing_and_upgrade_again(backend: str, tmp_path: Path) -> None:
    database = create_database(backend, tmp_path)
    try:
        config = alembic_config(database.url)
        command.downgrade(config, "base")
        command.upgrade(config, "head")
    finally:
        database.drop()


async def test_seed_analytics_sql_runs_unchanged(runtime: Runtime) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    async with runtime.sessions() as session:
        conversations = ConversationRepository(session)
        messages = MessageRepository(session)
        rows = []
        for i, (number, age) in enumerate([("111", 3), ("111", 1), ("222", 2)]):
            conversation_id = await conversations.upsert_customer(
                phone_number_id="1", phone_number=number, user_id=None, contact_name=None
            )
            rows.append(
                {
                    "message_id": f"wamid.seed{i}",
                    "conversation_id": conversation_id,
                    "direction": "in",
                    "phone_number_id": "1",
                    "from_number": number,
                    "message_type": "text",
                    "text_body": "hi",
                    "timestamp": now - timedelta(hours=age),
                    "status": "received",
                }
            )
        await messages.insert_ignore(rows)
        await session.commit()
        result = await session.execute(text(SEED_ANALYTICS_SQL))
        found = [(row.from_number, row.msg_count) for row in result]
    assert found == [("111", 2), ("222", 1)]

"""Alembic environment: async engine from the service's settings, batch mode on SQLite."""

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from app import models  # noqa: F401  (registers every table on Base.metadata)
from app.config import Settings
from app.db import Base, create_engine

config = context.config
if "database_url" in config.attributes:
    url = config.attributes["database_url"]
    pooler = config.attributes.get("database_pooler", "none")
else:
    settings = Settings()
    url, pooler = settings.database_url, settings.database_pooler
target_metadata = Base.metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_online() -> None:
    engine = create_engine(url, pooler=pooler)
    async with engine.connect() as connection:
        await connection.run_sync(_configure)
        await connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_online())

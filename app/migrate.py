"""Apply the Alembic migrations from code (the service migrates itself at start-up)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from app.pooler import Pooler

ROOT = Path(__file__).resolve().parent.parent


def alembic_config(database_url: str, pooler: Pooler = "none") -> Config:
    """An Alembic config for the repository's migrations and this database."""
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["database_url"] = database_url
    config.attributes["database_pooler"] = pooler
    return config


def upgrade_database(database_url: str, pooler: Pooler = "none") -> None:
    """Bring the database to the newest revision. Call outside a running event loop."""
    command.upgrade(alembic_config(database_url, pooler), "head")

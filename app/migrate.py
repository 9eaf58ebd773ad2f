"""Apply the Alembic migrations from code (the service migrates itself at start-up).

The migrations ship inside the package (app/migrations), so an installed service, run
from any directory, finds them without the source tree.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from app.pooler import Pooler

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(database_url: str, pooler: Pooler = "none") -> Config:
    """An Alembic config for the package's migrations and this database."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    config.attributes["database_url"] = database_url
    config.attributes["database_pooler"] = pooler
    return config


def upgrade_database(database_url: str, pooler: Pooler = "none") -> None:
    """Bring the database to the newest revision. Call outside a running event loop."""
    command.upgrade(alembic_config(database_url, pooler), "head")

"""Applies Alembic migrations; run at start and by `python -m server migrate`."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from server.config import Settings
from server.store.database import Database

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(connection: sa.Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """Newest migration shipped with this code."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    return head or ""


def current_revision(connection: sa.Connection) -> str:
    """Migration the database is at."""
    return MigrationContext.configure(connection).get_current_revision() or ""


async def upgrade(database: Database) -> None:
    """Brings the database to the newest migration."""
    await database.write(lambda connection: command.upgrade(alembic_config(connection), "head"))


async def migrate(settings: Settings) -> None:
    database = Database(settings)
    try:
        await upgrade(database)
    finally:
        await database.dispose()

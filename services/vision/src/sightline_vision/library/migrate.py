"""Alembic, configured in code: the migrations ship inside the package (no
alembic.ini), so a deployed image migrates its own database at start-up."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from sightline_vision.library.dialects import Dialect
from sightline_vision.library.models import VERSION_TABLE

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def migrate(engine: AsyncEngine, dialect: Dialect) -> None:
    """Upgrade to head in one transaction, under the dialect's migration lock
    (two replicas starting at once: the second waits, then finds nothing to do)."""
    config = alembic_config()

    def upgrade(connection: Connection) -> None:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")

    async with engine.connect() as plain:
        conn = await dialect.migration_connection(plain)
        async with conn.begin():
            await dialect.lock_for_migration(conn)
            await conn.run_sync(upgrade)


async def current_revision(engine: AsyncEngine) -> str | None:
    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE}).get_current_revision()

    async with engine.connect() as conn:
        return await conn.run_sync(read)

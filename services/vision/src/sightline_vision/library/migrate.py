"""The photo library's Alembic migrations: they ship inside the package
(migrations/) and run at open through sightline_runtime.database."""

from __future__ import annotations

from pathlib import Path

from sightline_runtime import database
from sqlalchemy.ext.asyncio import AsyncEngine

from sightline_vision.library.models import VERSION_TABLE

MIGRATIONS = database.Migrations(
    directory=Path(__file__).resolve().parent / "migrations",
    version_table=VERSION_TABLE,
    lock_name="sightline_vision.library.migrate",
)


def head_revision() -> str | None:
    return MIGRATIONS.head()


async def current_revision(engine: AsyncEngine) -> str | None:
    return await database.current_revision(engine, VERSION_TABLE)

"""sightline_runtime.database: what it refuses before connecting, and a real
SQLite file migrated by a package's in-code Alembic scripts (the assistant's
and vision's stores run the PostgreSQL side in their own tests)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sightline_runtime.database import Migrations, UnsupportedDatabase, UtcDateTime, normalise_url, open_database
from sqlalchemy import Column, Integer, MetaData, Table, select
from sqlalchemy.exc import StatementError

NO_MIGRATIONS = Migrations(directory=Path("/nonexistent"), version_table="t_version", lock_name="t")


def test_plain_urls_pick_the_async_drivers() -> None:
    assert normalise_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("sqlite:///var/a.db") == "sqlite+aiosqlite:///var/a.db"
    assert normalise_url("postgresql+asyncpg://u@h/db") == "postgresql+asyncpg://u@h/db"


@pytest.mark.parametrize(
    ("url", "schema", "message"),
    [
        ("mysql+aiomysql://u@h/db", "", "the store runs on SQLite or PostgreSQL, not mysql"),
        ("sqlite:///a.db", "mine", "a schema applies to PostgreSQL only"),
        ("postgresql://u@h/db", "Robert'); DROP", "invalid schema name"),
    ],
)
async def test_what_it_cannot_run_on_is_refused_before_connecting(url: str, schema: str, message: str) -> None:
    with pytest.raises(UnsupportedDatabase, match=message.replace("(", r"\(").replace(")", r"\)")):
        await open_database(url, NO_MIGRATIONS, schema=schema, what="store")


async def test_an_sqlite_file_in_a_new_folder_is_migrated_and_keeps_aware_times(tmp_path: Path) -> None:
    migrations = tmp_path / "migrations"
    (migrations / "versions").mkdir(parents=True)
    (migrations / "env.py").write_text(
        "from sqlalchemy import MetaData\nfrom sightline_runtime.database import run_migrations\nrun_migrations(MetaData())\n"
    )
    (migrations / "versions" / "0001_first.py").write_text(
        "import sqlalchemy as sa\nfrom alembic import op\n"
        "revision = '0001'\ndown_revision = None\nbranch_labels = None\ndepends_on = None\n"
        "def upgrade():\n    op.create_table('t_moments', sa.Column('id', sa.Integer, primary_key=True),"
        " sa.Column('at', sa.DateTime(timezone=True)))\n"
    )
    spec = Migrations(directory=migrations, version_table="t_version", lock_name="test")
    database = await open_database(f"sqlite:///{tmp_path / 'new' / 'folder' / 'x.db'}", spec)
    moments = Table("t_moments", MetaData(), Column("id", Integer, primary_key=True), Column("at", UtcDateTime()))
    shanghai = dt.datetime(2026, 12, 3, 16, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    try:
        assert database.backend == "sqlite"
        async with database.engine.begin() as conn:
            await conn.execute(database.insert(moments).values(id=1, at=shanghai).on_conflict_do_nothing())
            await conn.execute(database.insert(moments).values(id=1, at=shanghai).on_conflict_do_nothing())
            stored = (await conn.execute(select(moments.c.at))).scalars().all()
        assert stored == [dt.datetime(2026, 12, 3, 8, 0, tzinfo=dt.UTC)]
        assert stored[0].tzinfo is dt.UTC
        async with database.engine.begin() as conn:
            with pytest.raises(StatementError, match="aware datetimes only"):
                await conn.execute(moments.insert().values(id=2, at=dt.datetime(2026, 12, 3)))
    finally:
        await database.close()
    assert spec.head() == "0001"

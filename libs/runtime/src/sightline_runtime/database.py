"""A service's own SQL database: one SQLAlchemy 2 (async) code path over
SQLite (a file, the embedded default) and PostgreSQL (deployments).

What every such store needs and nothing of any one store: the async driver
from a plain URL, connection set-up per backend (WAL and busy waits on
SQLite, a schema on PostgreSQL), Alembic migrations shipped inside the
service's package and run at start-up under a lock (two replicas starting
at once: the second waits, then finds nothing to do), aware-UTC timestamps
on both backends, and the backend's upsert. The tables, queries and
migrations stay with the service.

Needs the service to depend on sqlalchemy[asyncio], alembic, aiosqlite and
psycopg (the runtime itself does not pull them in).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command, context
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, MetaData, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.types import DateTime, TypeDecorator

log = logging.getLogger(__name__)

SCHEMA_PATTERN = r"[a-z_][a-z0-9_]{0,62}"
_SCHEMA = re.compile(SCHEMA_PATTERN)
# Execution option asking the SQLite BEGIN to take the write lock at once.
_IMMEDIATE = "sightline_begin_immediate"


class UnsupportedDatabase(ValueError):
    """A URL or schema the stores cannot run on."""


def normalise_url(url: str) -> str:
    """The async driver's URL: postgresql:// and postgres:// mean psycopg, sqlite:// means aiosqlite."""
    for plain, driver in (
        ("postgres://", "postgresql+psycopg://"),
        ("postgresql://", "postgresql+psycopg://"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(plain):
            return driver + url.removeprefix(plain)
    return url


def check_schema(backend: str, schema: str) -> str:
    if not schema:
        return ""
    if backend != "postgresql":
        raise UnsupportedDatabase("a schema applies to PostgreSQL only")
    if not _SCHEMA.fullmatch(schema):
        raise UnsupportedDatabase(f"invalid schema name {schema!r}: lowercase letters, digits and '_', not starting with a digit")
    return schema


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Aware datetimes in, aware UTC datetimes out. SQLite has no time zones:
    it stores naive UTC text, which still sorts and compares in time order."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("the store takes aware datetimes only")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


@dataclass(frozen=True)
class Migrations:
    """A package's Alembic scripts (no alembic.ini: configured in code, so a
    deployed image migrates its own database) and the table of its revision.
    `lock_name` names the PostgreSQL advisory lock the migration runs under."""

    directory: Path
    version_table: str
    lock_name: str

    def config(self) -> Config:
        config = Config()
        config.set_main_option("script_location", str(self.directory))
        return config

    def head(self) -> str | None:
        return ScriptDirectory.from_config(self.config()).get_current_head()


def run_migrations(metadata: MetaData) -> None:
    """The body of a package's migrations/env.py: migrate on the connection
    `migrate` hands over (already in a transaction, holding the lock)."""
    config = context.config
    context.configure(
        connection=config.attributes["connection"], target_metadata=metadata, version_table=config.attributes["version_table"]
    )
    with context.begin_transaction():
        context.run_migrations()


@dataclass(frozen=True)
class Database:
    """An open engine and what its backend needs: `insert` is the backend's
    INSERT with on_conflict_do_* (the same call on both)."""

    engine: AsyncEngine
    backend: str  # "sqlite" or "postgresql"
    schema: str = ""

    def insert(self, table: Any) -> Any:
        return sqlite.insert(table) if self.backend == "sqlite" else postgresql.insert(table)

    async def close(self) -> None:
        await self.engine.dispose()


def _engine_options(backend: str, schema: str) -> dict[str, Any]:
    if backend == "sqlite":
        # Another process (or replica) holding the write lock is waited for, not failed on.
        return {"connect_args": {"timeout": 15}}
    options: dict[str, Any] = {"pool_pre_ping": True}
    if schema:
        options["connect_args"] = {"options": f"-csearch_path={schema}"}
    return options


def _into_wal(cursor: Any, attempts: int = 100) -> None:
    """Switch a file to WAL. On a new file opened by several replicas at once the switch
    needs the exclusive lock and SQLite answers "locked" at once rather than wait (it
    would deadlock), whatever the busy timeout: try again, briefly (WAL then persists)."""
    for attempt in range(attempts):
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.02 + 0.01 * attempt)


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        # The driver's own implicit BEGIN is off: SQLAlchemy's "begin" below emits it, so DDL is transactional too.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=15000")
        _into_wal(cursor)
        for pragma in ("synchronous=NORMAL", "foreign_keys=ON"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_IMMEDIATE) else "BEGIN")


async def open_database(url: str, migrations: Migrations, *, schema: str = "", what: str = "database") -> Database:
    """Connect and migrate to head (idempotent).

    url: "sqlite+aiosqlite:///path.db" or "postgresql+psycopg://..." (plain
    sqlite:// and postgresql:// pick those drivers; an SQLite file's folder is
    created); schema: PostgreSQL only, created if missing. UnsupportedDatabase
    for anything else."""
    url = normalise_url(url)
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise UnsupportedDatabase(f"the {what} runs on SQLite or PostgreSQL, not {backend}")
    schema = check_schema(backend, schema)
    if backend == "sqlite" and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, **_engine_options(backend, schema))
    if backend == "sqlite":
        _configure_sqlite(engine)
    database = Database(engine, backend, schema)
    try:
        await migrate(database, migrations)
    except BaseException:
        await engine.dispose()
        raise
    log.info("%s open on %s", what, parsed.render_as_string(hide_password=True))
    return database


async def migrate(database: Database, migrations: Migrations) -> None:
    """Upgrade to head in one transaction, under a migration lock: SQLite's
    BEGIN IMMEDIATE (the file's write lock), PostgreSQL's advisory lock."""
    config = migrations.config()
    config.attributes["version_table"] = migrations.version_table

    def upgrade(connection: Connection) -> None:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")

    async with database.engine.connect() as plain:
        conn = await _migration_connection(database, plain)
        async with conn.begin():
            if database.backend == "postgresql":
                # Replicas starting at once migrate one after the other; the lock goes with the transaction.
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(hashtext(:name || ':' || :schema))"),
                    {"name": migrations.lock_name, "schema": database.schema},
                )
                if database.schema:
                    await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{database.schema}"'))
            await conn.run_sync(upgrade)


async def _migration_connection(database: Database, conn: AsyncConnection) -> AsyncConnection:
    if database.backend == "sqlite":
        # BEGIN IMMEDIATE: a second process opening the same file waits for the first's migration.
        return await conn.execution_options(**{_IMMEDIATE: True})
    return conn


async def current_revision(engine: AsyncEngine, version_table: str) -> str | None:
    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection, opts={"version_table": version_table}).get_current_revision()

    async with engine.connect() as conn:
        return await conn.run_sync(read)

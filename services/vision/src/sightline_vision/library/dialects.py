"""Everything that differs between SQLite and PostgreSQL, and nothing else:
connection set-up, the migration lock, the upsert, full-text match and rank."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Select, event, func, literal_column, select, table, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from sightline_vision.library.models import PHOTO_FTS, PHOTOS, Photo
from sightline_vision.library.text import Term, quoted_terms

_SCHEMA = re.compile(r"[a-z_][a-z0-9_]{0,62}")
# Execution option asking the SQLite BEGIN to take the write lock at once.
_IMMEDIATE = "sightline_begin_immediate"


class Dialect(Protocol):
    name: str

    def engine_options(self) -> dict[str, Any]: ...
    def configure(self, engine: AsyncEngine) -> None: ...
    async def migration_connection(self, conn: AsyncConnection) -> AsyncConnection: ...
    async def lock_for_migration(self, conn: AsyncConnection) -> None: ...
    def insert(self, model: type[Photo]) -> Any: ...
    def match(self, stmt: Select[Any], terms: list[Term], device_id: str) -> Select[Any]: ...


@dataclass(frozen=True)
class SqliteDialect:
    """Contentless FTS5 over the text and the device; bm25 ranks (lower is better, so the score is its negation)."""

    name = "sqlite"

    def engine_options(self) -> dict[str, Any]:
        # Another process (or replica) holding the write lock is waited for, not failed on.
        return {"connect_args": {"timeout": 15}}

    def configure(self, engine: AsyncEngine) -> None:
        @event.listens_for(engine.sync_engine, "connect")
        def _connect(dbapi_connection: Any, _record: Any) -> None:
            # The driver's own implicit BEGIN is off: SQLAlchemy's "begin" below emits it, so DDL is transactional too.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=15000"):
                cursor.execute(f"PRAGMA {pragma}")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_IMMEDIATE) else "BEGIN")

    async def migration_connection(self, conn: AsyncConnection) -> AsyncConnection:
        # BEGIN IMMEDIATE: a second process opening the same file waits for the first's migration.
        return await conn.execution_options(**{_IMMEDIATE: True})

    async def lock_for_migration(self, conn: AsyncConnection) -> None:
        return None  # the BEGIN IMMEDIATE of migration_connection holds the file's write lock

    def insert(self, model: type[Photo]) -> Any:
        return sqlite.insert(model)

    def match(self, stmt: Select[Any], terms: list[Term], device_id: str) -> Select[Any]:
        fts_table = literal_column(PHOTO_FTS)
        # The text terms, within the device's rows: FTS5 intersects the two and ranks only those.
        query = f'search_text : ({quoted_terms(terms)}) AND device_token : "{device_token(device_id)}"'
        matches = (
            # bm25 weights: the text 1, the device token 0 (it is on every row of the device alike).
            select(literal_column("rowid").label("photo_pk"), (-func.bm25(fts_table, 1.0, 0.0)).label("score"))
            .select_from(table(PHOTO_FTS))
            .where(fts_table.op("MATCH")(query))
            # Materialised: run the full-text query once, never once per photo row of the device.
            .cte("matches")
            .prefix_with("MATERIALIZED")
        )
        return stmt.join(matches, matches.c.photo_pk == Photo.id).add_columns(matches.c.score)


def device_token(device_id: str) -> str:
    """The device as the FTS table holds it: one token of letters and digits (the triggers' 'd' || lower(hex(id)))."""
    return "d" + device_id.encode().hex()


@dataclass(frozen=True)
class PostgresDialect:
    """A generated tsvector column with a GIN index; ts_rank_cd ranks (normalised by document length)."""

    schema: str = ""
    name = "postgresql"

    def __post_init__(self) -> None:
        if self.schema and not _SCHEMA.fullmatch(self.schema):
            raise UnsupportedDatabase(f"invalid schema name {self.schema!r}: lowercase letters, digits and '_', not starting with a digit")

    def engine_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"pool_pre_ping": True}
        if self.schema:
            options["connect_args"] = {"options": f"-csearch_path={self.schema}"}
        return options

    def configure(self, engine: AsyncEngine) -> None:
        return None

    async def migration_connection(self, conn: AsyncConnection) -> AsyncConnection:
        return conn

    async def lock_for_migration(self, conn: AsyncConnection) -> None:
        # Replicas starting at once migrate one after the other; the lock goes with the transaction.
        await conn.execute(
            text("SELECT pg_advisory_xact_lock(hashtext('sightline_vision.library.migrate:' || :schema))"), {"schema": self.schema}
        )
        if self.schema:
            await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"'))

    def insert(self, model: type[Photo]) -> Any:
        return postgresql.insert(model)

    def match(self, stmt: Select[Any], terms: list[Term], device_id: str) -> Select[Any]:
        vector = literal_column(f"{PHOTOS}.search_vector")
        query = func.websearch_to_tsquery(literal_column("'simple'::regconfig"), quoted_terms(terms))
        return stmt.where(vector.op("@@")(query)).add_columns(func.ts_rank_cd(vector, query, 1).label("score"))


class UnsupportedDatabase(ValueError):
    pass


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


def dialect_for(url: str, schema: str = "") -> Dialect:
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        if schema:
            raise UnsupportedDatabase("a schema applies to PostgreSQL only")
        return SqliteDialect()
    if backend == "postgresql":
        return PostgresDialect(schema)
    raise UnsupportedDatabase(f"the photo library runs on SQLite or PostgreSQL, not {backend}")

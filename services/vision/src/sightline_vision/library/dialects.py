"""Everything that differs between SQLite and PostgreSQL in the photo
library's queries: full-text match and rank. Connection set-up, the
migration lock and the upsert are the runtime's (sightline_runtime.database)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Select, func, literal_column, select, table

from sightline_vision.library.models import PHOTO_FTS, PHOTOS, Photo
from sightline_vision.library.text import Term, quoted_terms


class Dialect(Protocol):
    name: str

    def match(self, stmt: Select[Any], terms: list[Term], device_id: str) -> Select[Any]: ...


@dataclass(frozen=True)
class SqliteDialect:
    """Contentless FTS5 over the text and the device; bm25 ranks (lower is better, so the score is its negation)."""

    name = "sqlite"

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

    name = "postgresql"

    def match(self, stmt: Select[Any], terms: list[Term], device_id: str) -> Select[Any]:
        vector = literal_column(f"{PHOTOS}.search_vector")
        query = func.websearch_to_tsquery(literal_column("'simple'::regconfig"), quoted_terms(terms))
        return stmt.where(vector.op("@@")(query)).add_columns(func.ts_rank_cd(vector, query, 1).label("score"))


def dialect_for(backend: str) -> Dialect:
    return SqliteDialect() if backend == "sqlite" else PostgresDialect()

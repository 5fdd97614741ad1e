"""The photo library: a device's photos, found by text, tag and time.

One code path through SQLAlchemy for SQLite and PostgreSQL; what differs
(full-text match and rank, upsert, locks) is in dialects.py. Every read and
delete is keyed by the device: no method can reach another device's rows.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence

from sightline.v1.vision_pb2 import PhotoRecord
from sightline_runtime.database import Database, open_database
from sqlalchemy import Select, delete, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from sightline_vision.library.dialects import dialect_for
from sightline_vision.library.entry import PhotoEntry, record_from_row
from sightline_vision.library.migrate import MIGRATIONS
from sightline_vision.library.models import Photo, PhotoTag
from sightline_vision.library.query import DEFAULT_LIMIT, SearchQuery, check_device, check_photo_id

log = logging.getLogger(__name__)

_RECORD_COLUMNS = (
    Photo.photo_id,
    Photo.device_id,
    Photo.captured_at,
    Photo.width,
    Photo.height,
    Photo.object_name,
    Photo.treatment,
    Photo.detail,
)


class PhotoLibrary:
    def __init__(self, database: Database) -> None:
        self._database = database
        self._engine = database.engine
        self._dialect = dialect_for(database.backend)

    @classmethod
    async def open(cls, url: str, *, schema: str = "") -> PhotoLibrary:
        """Connect and migrate to the newest schema (idempotent).

        url: "sqlite+aiosqlite:///path.db" or "postgresql+psycopg://..." (plain
        sqlite:// and postgresql:// pick those drivers); schema: PostgreSQL
        only, created if missing."""
        return cls(await open_database(url, MIGRATIONS, schema=schema, what="photo library"))

    async def close(self) -> None:
        await self._database.close()

    # --- writes ---
    async def index(self, entry: PhotoEntry) -> None:
        """Add or replace a photo's entry (one row per device and photo id)."""
        await self.index_many([entry])

    async def index_many(self, entries: Iterable[PhotoEntry]) -> None:
        """Several entries in one transaction (all or none)."""
        checked = [entry.checked() for entry in entries]
        async with self._engine.begin() as conn:
            for photo in checked:
                await self._upsert(conn, photo.row, photo.tags)

    async def _upsert(self, conn: AsyncConnection, row: dict, tags: list[str]) -> None:
        insert = self._database.insert(Photo).values(**row)
        replace = {key: insert.excluded[key] for key in row if key not in ("device_id", "photo_id")}
        statement = insert.on_conflict_do_update(index_elements=[Photo.device_id, Photo.photo_id], set_=replace).returning(Photo.id)
        photo_pk = (await conn.execute(statement)).scalar_one()
        await conn.execute(delete(PhotoTag).where(PhotoTag.photo_pk == photo_pk))
        if tags:
            await conn.execute(
                PhotoTag.__table__.insert(), [{"photo_pk": photo_pk, "tag": tag, "device_id": row["device_id"]} for tag in tags]
            )

    async def delete(self, device_id: str, photo_id: str) -> bool:
        """Remove a photo's entry (its tags and full-text entry go with it)."""
        where = (Photo.device_id == check_device(device_id), Photo.photo_id == check_photo_id(photo_id))
        async with self._engine.begin() as conn:
            await conn.execute(delete(PhotoTag).where(PhotoTag.photo_pk.in_(select(Photo.id).where(*where))))
            return (await conn.execute(delete(Photo).where(*where))).rowcount > 0

    async def expire(self, before: dt.datetime) -> int:
        """Retention: remove the entries of every photo captured before `before`; how many."""
        if before.tzinfo is None:
            raise ValueError("expire takes an aware datetime")
        async with self._engine.begin() as conn:
            await conn.execute(delete(PhotoTag).where(PhotoTag.photo_pk.in_(select(Photo.id).where(Photo.captured_at < before))))
            removed = (await conn.execute(delete(Photo).where(Photo.captured_at < before))).rowcount
        if removed:
            log.info("photo library: %d entries past retention removed", removed)
        return removed

    # --- reads ---
    async def get(self, device_id: str, photo_id: str) -> PhotoRecord | None:
        statement = select(*_RECORD_COLUMNS).where(Photo.device_id == check_device(device_id), Photo.photo_id == check_photo_id(photo_id))
        async with self._engine.connect() as conn:
            row = (await conn.execute(statement)).first()
        return None if row is None else record_from_row(row)

    async def search(
        self,
        device_id: str,
        *,
        query: str = "",
        tags: Sequence[str] = (),
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        limit: int = DEFAULT_LIMIT,
        offset: int = 0,
    ) -> tuple[list[PhotoRecord], int]:
        """(a page of the device's matching photos, how many match in all).

        With a query: best match first (bm25 / ts_rank_cd), then newest.
        Without: newest first. Every tag given must be on the photo; since
        and until bound captured_at (inclusive). LibraryQueryError for bad
        arguments."""
        search = SearchQuery.build(device_id, query=query, tags=tags, since=since, until=until, limit=limit, offset=offset)
        async with self._engine.connect() as conn:
            if search.terms:
                return await self._ranked(conn, search)
            # Newest first: the (device, time) index gives the page in order, and the count without reading a row.
            page = self._filtered(select(*_RECORD_COLUMNS), search).order_by(Photo.captured_at.desc(), Photo.id.desc())
            rows = (await conn.execute(page.limit(search.limit).offset(search.offset))).all()
            total = await self._count(conn, self._filtered(select(Photo.id), search))
        return [record_from_row(row) for row in rows], total

    async def _ranked(self, conn: AsyncConnection, search: SearchQuery) -> tuple[list[PhotoRecord], int]:
        statement = self._dialect.match(self._filtered(select(*_RECORD_COLUMNS), search), search.terms, search.device_id)
        order = (statement.selected_columns.score.desc(), Photo.captured_at.desc(), Photo.id.desc())
        # One full-text query: the total rides along on every row of the page...
        page = statement.add_columns(func.count().over().label("total")).order_by(*order).limit(search.limit).offset(search.offset)
        rows = (await conn.execute(page)).all()
        if rows:
            total = int(rows[0].total)
        else:  # ...and past the last page, where there is no row to carry it, a second one counts.
            total = await self._count(conn, self._dialect.match(self._filtered(select(Photo.id), search), search.terms, search.device_id))
        return [record_from_row(row, float(row.score)) for row in rows], total

    @staticmethod
    async def _count(conn: AsyncConnection, matching: Select) -> int:
        return int((await conn.execute(select(func.count()).select_from(matching.subquery()))).scalar_one())

    @staticmethod
    def _filtered(statement: Select, search: SearchQuery) -> Select:
        statement = statement.where(Photo.device_id == search.device_id)
        if search.since is not None:
            statement = statement.where(Photo.captured_at >= search.since)
        if search.until is not None:
            statement = statement.where(Photo.captured_at <= search.until)
        if search.tags:
            tagged = (
                select(PhotoTag.photo_pk)
                .where(PhotoTag.device_id == search.device_id, PhotoTag.tag.in_(search.tags))
                .group_by(PhotoTag.photo_pk)
                .having(func.count() == len(search.tags))
            )
            statement = statement.where(Photo.id.in_(tagged))
        return statement

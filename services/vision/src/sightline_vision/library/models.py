"""The index's tables (SQLAlchemy 2 models), the same on SQLite and PostgreSQL.

The full-text part differs per database and is not modelled here: SQLite
keeps a contentless FTS5 table over `search_text` (and the device) in step by triggers, PostgreSQL a
generated tsvector column with a GIN index (see migrations/ and dialects.py).
"""

from __future__ import annotations

import datetime as dt

from sightline_runtime.database import UtcDateTime
from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

PHOTOS = "library_photos"
PHOTO_TAGS = "library_photo_tags"
PHOTO_FTS = "library_photo_fts"
VERSION_TABLE = "library_alembic_version"


class Base(DeclarativeBase):
    pass


class Photo(Base):
    __tablename__ = PHOTOS
    __table_args__ = (
        UniqueConstraint("device_id", "photo_id", name="uq_library_photos_device_photo"),
        # Listing a device's photos newest first, and time ranges.
        Index("ix_library_photos_device_time", "device_id", "captured_at"),
        # Retention: everything captured before a moment.
        Index("ix_library_photos_time", "captured_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(String(64))
    photo_id: Mapped[str] = mapped_column(String(128))
    captured_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    object_name: Mapped[str] = mapped_column(String(512))
    treatment: Mapped[int] = mapped_column(Integer)
    # Tags, text regions and codes: a serialised PhotoRecord holding only those (binary
    # protobuf: a page of 20 decodes in microseconds, where protobuf JSON took milliseconds).
    detail: Mapped[bytes] = mapped_column(LargeBinary)
    # OCR text and tags as tokens (text.index_text): what the full-text index covers.
    search_text: Mapped[str] = mapped_column(Text)


class PhotoTag(Base):
    """One normalised tag of a photo, for exact tag filters."""

    __tablename__ = PHOTO_TAGS
    __table_args__ = (Index("ix_library_photo_tags_device_tag", "device_id", "tag", "photo_pk"),)

    photo_pk: Mapped[int] = mapped_column(ForeignKey(f"{PHOTOS}.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(200), primary_key=True)
    # The photo's device again, so a tag filter never leaves the device's rows.
    device_id: Mapped[str] = mapped_column(String(64))

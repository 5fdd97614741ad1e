"""The assistant's tables (SQLAlchemy 2 models), the same on SQLite and PostgreSQL.

Every row is a device's; every unique key starts with the device, so one
device's ids never collide with another's and no query leaves a device's rows.
"""

from __future__ import annotations

import datetime as dt

from sightline_runtime.database import UtcDateTime
from sqlalchemy import BigInteger, Boolean, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

VERSION_TABLE = "assistant_alembic_version"

_ID = BigInteger().with_variant(Integer, "sqlite")


class Base(DeclarativeBase):
    pass


class TranscriptRow(Base):
    """One utterance: its final transcript and its translation, whichever came first.

    has_final is false while only the translation has arrived (text is then
    the translation's source text and the times its creation); the final
    overwrites both. The revisions make a redelivered older event a no-op."""

    __tablename__ = "assistant_transcript_lines"
    __table_args__ = (
        UniqueConstraint("device_id", "utterance_id", name="uq_assistant_transcript_device_utterance"),
        # Reading a device's transcript in time order, from a moment on (keyset pages).
        Index("ix_assistant_transcript_device_time", "device_id", "ended_at", "id"),
        # Retention: everything that ended before a moment.
        Index("ix_assistant_transcript_time", "ended_at"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(String(64))
    utterance_id: Mapped[str] = mapped_column(String(128))
    started_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    ended_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(35))
    has_final: Mapped[bool] = mapped_column(Boolean)
    final_revision: Mapped[int] = mapped_column(Integer)
    translation: Mapped[str] = mapped_column(Text)
    translation_language: Mapped[str] = mapped_column(String(35))
    translation_revision: Mapped[int] = mapped_column(Integer)


class NoteRow(Base):
    __tablename__ = "assistant_notes"
    __table_args__ = (
        UniqueConstraint("device_id", "note_id", name="uq_assistant_notes_device_note"),
        Index("ix_assistant_notes_device_time", "device_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(String(64))
    note_id: Mapped[str] = mapped_column(String(128))
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(35))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class MeetingRow(Base):
    """A meeting-notes session: open while ended_at is null (one open per device), then its summary."""

    __tablename__ = "assistant_meetings"
    __table_args__ = (
        UniqueConstraint("device_id", "meeting_id", name="uq_assistant_meetings_device_meeting"),
        Index(
            "uq_assistant_meetings_open",
            "device_id",
            unique=True,
            sqlite_where="ended_at IS NULL",
            postgresql_where="ended_at IS NULL",
        ),
        Index("ix_assistant_meetings_device_time", "device_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(String(64))
    meeting_id: Mapped[str] = mapped_column(String(128))
    started_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    ended_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    summary: Mapped[str] = mapped_column(Text)
    # JSON list of strings.
    action_items: Mapped[str] = mapped_column(Text)
    engine: Mapped[str] = mapped_column(String(200))
    utterances: Mapped[int] = mapped_column(Integer)


class CalendarEventRow(Base):
    """One occurrence of a device's schedule. event_uid is the VEVENT's UID with
    its recurrence id; base_uid the UID alone, so a re-import of an event
    replaces all its occurrences (a changed RRULE leaves no stale ones)."""

    __tablename__ = "assistant_calendar_events"
    __table_args__ = (
        UniqueConstraint("device_id", "event_uid", name="uq_assistant_calendar_device_uid"),
        Index("ix_assistant_calendar_device_base", "device_id", "base_uid"),
        Index("ix_assistant_calendar_device_time", "device_id", "starts_at"),
        Index("ix_assistant_calendar_time", "ends_at"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(String(64))
    event_uid: Mapped[str] = mapped_column(String(600))
    base_uid: Mapped[str] = mapped_column(String(512))
    summary: Mapped[str] = mapped_column(Text)
    location: Mapped[str] = mapped_column(Text)
    starts_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    ends_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    all_day: Mapped[bool] = mapped_column(Boolean)

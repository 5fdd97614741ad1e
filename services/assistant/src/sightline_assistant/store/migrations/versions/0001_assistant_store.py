"""The assistant's store: transcript lines, notes, meeting-notes sessions and schedules.

Revision ID: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "assistant_transcript_lines",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("utterance_id", sa.String(128), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("language", sa.String(35), nullable=False),
        sa.Column("has_final", sa.Boolean, nullable=False),
        sa.Column("final_revision", sa.Integer, nullable=False),
        sa.Column("translation", sa.Text, nullable=False),
        sa.Column("translation_language", sa.String(35), nullable=False),
        sa.Column("translation_revision", sa.Integer, nullable=False),
        sa.UniqueConstraint("device_id", "utterance_id", name="uq_assistant_transcript_device_utterance"),
    )
    op.create_index("ix_assistant_transcript_device_time", "assistant_transcript_lines", ["device_id", "ended_at", "id"])
    op.create_index("ix_assistant_transcript_time", "assistant_transcript_lines", ["ended_at"])

    op.create_table(
        "assistant_notes",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("note_id", sa.String(128), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("language", sa.String(35), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("device_id", "note_id", name="uq_assistant_notes_device_note"),
    )
    op.create_index("ix_assistant_notes_device_time", "assistant_notes", ["device_id", "created_at"])

    op.create_table(
        "assistant_meetings",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("meeting_id", sa.String(128), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("action_items", sa.Text, nullable=False),
        sa.Column("engine", sa.String(200), nullable=False),
        sa.Column("utterances", sa.Integer, nullable=False),
        sa.UniqueConstraint("device_id", "meeting_id", name="uq_assistant_meetings_device_meeting"),
    )
    # At most one open session per device: two "start meeting notes" at once open one.
    op.create_index(
        "uq_assistant_meetings_open",
        "assistant_meetings",
        ["device_id"],
        unique=True,
        sqlite_where=sa.text("ended_at IS NULL"),
        postgresql_where=sa.text("ended_at IS NULL"),
    )
    op.create_index("ix_assistant_meetings_device_time", "assistant_meetings", ["device_id", "started_at"])

    op.create_table(
        "assistant_calendar_events",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("event_uid", sa.String(600), nullable=False),
        sa.Column("base_uid", sa.String(512), nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("location", sa.Text, nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("all_day", sa.Boolean, nullable=False),
        sa.UniqueConstraint("device_id", "event_uid", name="uq_assistant_calendar_device_uid"),
    )
    op.create_index("ix_assistant_calendar_device_base", "assistant_calendar_events", ["device_id", "base_uid"])
    op.create_index("ix_assistant_calendar_device_time", "assistant_calendar_events", ["device_id", "starts_at"])
    op.create_index("ix_assistant_calendar_time", "assistant_calendar_events", ["ends_at"])


def downgrade() -> None:
    for name in ("assistant_calendar_events", "assistant_meetings", "assistant_notes", "assistant_transcript_lines"):
        op.drop_table(name)

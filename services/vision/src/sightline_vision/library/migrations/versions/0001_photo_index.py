"""The photo index: photos, their tags, and full-text search over OCR text and tags.

SQLite: a contentless FTS5 table over the photos' search_text and device,
kept in step by triggers; bm25 ranks. PostgreSQL: a generated tsvector column ('simple'
configuration: the text is already tokenised, see library/text.py) with a
GIN index; ts_rank_cd ranks.

Revision ID: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SQLITE_FTS = (
    # Contentless: searches read only rowids and ranks. The device's own column (its id as one
    # hex token) lets a match stop at the device's rows instead of ranking every device's.
    "CREATE VIRTUAL TABLE library_photo_fts USING fts5(search_text, device_token, content='', tokenize='unicode61')",
    """CREATE TRIGGER library_photos_fts_insert AFTER INSERT ON library_photos BEGIN
         INSERT INTO library_photo_fts(rowid, search_text, device_token) VALUES (new.id, new.search_text, 'd' || lower(hex(new.device_id)));
       END""",
    """CREATE TRIGGER library_photos_fts_delete AFTER DELETE ON library_photos BEGIN
         INSERT INTO library_photo_fts(library_photo_fts, rowid, search_text, device_token)
           VALUES ('delete', old.id, old.search_text, 'd' || lower(hex(old.device_id)));
       END""",
    """CREATE TRIGGER library_photos_fts_update AFTER UPDATE OF search_text, device_id ON library_photos BEGIN
         INSERT INTO library_photo_fts(library_photo_fts, rowid, search_text, device_token)
           VALUES ('delete', old.id, old.search_text, 'd' || lower(hex(old.device_id)));
         INSERT INTO library_photo_fts(rowid, search_text, device_token) VALUES (new.id, new.search_text, 'd' || lower(hex(new.device_id)));
       END""",
)
POSTGRES_FTS = (
    "ALTER TABLE library_photos ADD COLUMN search_vector tsvector"
    " GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, search_text)) STORED",
    "CREATE INDEX ix_library_photos_search_vector ON library_photos USING gin (search_vector)",
)


def upgrade() -> None:
    op.create_table(
        "library_photos",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("photo_id", sa.String(128), nullable=False),
        sa.Column("captured_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("object_name", sa.String(512), nullable=False),
        sa.Column("treatment", sa.Integer, nullable=False),
        sa.Column("detail", sa.LargeBinary, nullable=False),
        sa.Column("search_text", sa.Text, nullable=False),
        sa.UniqueConstraint("device_id", "photo_id", name="uq_library_photos_device_photo"),
    )
    op.create_index("ix_library_photos_device_time", "library_photos", ["device_id", "captured_at"])
    op.create_index("ix_library_photos_time", "library_photos", ["captured_at"])
    op.create_table(
        "library_photo_tags",
        sa.Column(
            "photo_pk",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            sa.ForeignKey("library_photos.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("tag", sa.String(200), primary_key=True),
        sa.Column("device_id", sa.String(64), nullable=False),
    )
    op.create_index("ix_library_photo_tags_device_tag", "library_photo_tags", ["device_id", "tag", "photo_pk"])
    for statement in SQLITE_FTS if op.get_bind().dialect.name == "sqlite" else POSTGRES_FTS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER library_photos_fts_{trigger}")
        op.execute("DROP TABLE library_photo_fts")
    op.drop_table("library_photo_tags")
    op.drop_table("library_photos")

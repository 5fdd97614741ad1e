"""Alembic environment: library/migrate.py hands over a connection that is
already in a transaction and holds the migration lock."""

from __future__ import annotations

from alembic import context

from sightline_vision.library.models import VERSION_TABLE, Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, version_table=VERSION_TABLE)
with context.begin_transaction():
    context.run_migrations()

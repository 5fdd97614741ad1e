"""Alembic environment: sightline_runtime.database.migrate hands over a
connection that is already in a transaction and holds the migration lock."""

from __future__ import annotations

from sightline_runtime.database import run_migrations

from sightline_assistant.store.models import Base

run_migrations(Base.metadata)

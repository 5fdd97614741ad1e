"""Alembic migrations of the photo index, shipped inside the package (see library/migrate.py)."""

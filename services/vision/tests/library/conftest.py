"""Fixtures of the photo library's tests: a real database per test, SQLite
(a temp file) and PostgreSQL (SIGHTLINE_TEST_POSTGRES_DSN, one schema per
test under this session's prefix, dropped afterwards). Without the DSN the
PostgreSQL tests fail (runtime plugin's postgres_dsn), they never skip."""

from __future__ import annotations

import itertools
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import psycopg
import pytest
from photo_library_helpers import PhotoStore
from sightline_vision.library import PhotoLibrary

BACKENDS = ("sqlite", "postgresql")
# Schemas of this session: lib_<pid>_<random>_<n>.
SESSION_PREFIX = f"lib_{os.getpid()}_{secrets.token_hex(3)}"
_schema_numbers = itertools.count(1)


def _drop_schema(dsn: str, schema: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(scope="session", autouse=True)
def _drop_leftover_schemas() -> Iterator[None]:
    """Whatever a crashed test left under this session's prefix goes at the end."""
    yield
    dsn = os.environ.get("SIGHTLINE_TEST_POSTGRES_DSN")
    if not dsn:
        return
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", (SESSION_PREFIX + "%",)).fetchall()
        for (schema,) in rows:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(url, schema) of an empty database on the backend the test is parametrized with."""
    backend = request.param
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'library.db'}", ""
        return
    dsn = request.getfixturevalue("postgres_dsn")
    schema = f"{SESSION_PREFIX}_{next(_schema_numbers)}"
    try:
        yield dsn, schema
    finally:
        _drop_schema(dsn, schema)


@pytest.fixture
async def library(database: tuple[str, str]) -> AsyncIterator[PhotoLibrary]:
    url, schema = database
    opened = await PhotoLibrary.open(url, schema=schema)
    try:
        yield opened
    finally:
        await opened.close()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test on a database runs on SQLite and on PostgreSQL."""
    if "database" in metafunc.fixturenames:
        metafunc.parametrize("database", BACKENDS, indirect=True)


@pytest.fixture
async def photos(nats_url: str) -> AsyncIterator[PhotoStore]:
    """A real JetStream object store holding dev-a/smoke and dev-b/theirs."""
    nc = await nats.connect(nats_url)
    store = PhotoStore(nc, await nc.jetstream().create_object_store("photos"))
    for device, photo_id in (("dev-a", "smoke"), ("dev-b", "theirs")):
        await store.put(device, photo_id)
    yield store
    await nc.close()

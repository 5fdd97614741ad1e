"""LibrarySettings from the environment (SIGHTLINE_LIBRARY_*)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError
from sightline_vision.library import LibrarySettings
from sightline_vision.library_grpc import key_digest


def test_the_default_index_is_an_sqlite_file_in_the_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SIGHTLINE_LIBRARY_DATA_DIR", str(tmp_path / "vision"))
    settings = LibrarySettings()
    assert settings.library_url() == f"sqlite+aiosqlite:///{tmp_path / 'vision' / 'photo-library.db'}"
    assert (settings.library_grpc_port, settings.library_api_keys, settings.library_db_schema) == (0, {}, "")
    monkeypatch.setenv("SIGHTLINE_LIBRARY_DB_URL", "postgresql://vision@db/sightline")
    assert LibrarySettings().library_url() == "postgresql://vision@db/sightline"


def test_api_keys_are_digests_mapped_to_devices(monkeypatch: pytest.MonkeyPatch) -> None:
    digest = key_digest("s3cret")
    monkeypatch.setenv("SIGHTLINE_LIBRARY_API_KEYS", json.dumps({digest: ["dev-a", "dev-b"]}))
    assert LibrarySettings().library_api_keys == {digest: frozenset({"dev-a", "dev-b"})}
    # The key itself where its digest belongs is refused, and the message does not repeat it.
    monkeypatch.setenv("SIGHTLINE_LIBRARY_API_KEYS", json.dumps({"s3cret": ["dev-a"]}))
    with pytest.raises(ValidationError, match="SHA-256 hex digest") as refused:
        LibrarySettings()
    assert "s3cret" not in str(refused.value)


def test_a_schema_name_must_be_a_plain_identifier(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGHTLINE_LIBRARY_DB_SCHEMA", 'photos"; drop')
    with pytest.raises(ValidationError):
        LibrarySettings()

"""The photo library's settings (SIGHTLINE_LIBRARY_*), a mixin VisionSettings inherits."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sightline_runtime.api_keys import DeviceScopedKeys


class LibrarySettings(BaseSettings):
    # hide_input_in_errors: a raw API key set by mistake where its digest belongs is not echoed.
    model_config = SettingsConfigDict(env_prefix="SIGHTLINE_", extra="ignore", frozen=True, hide_input_in_errors=True)

    # SQLAlchemy URL of the index: "sqlite+aiosqlite:///path.db" or
    # "postgresql+psycopg://user@host/db" (plain postgresql:// works too).
    # Empty = an SQLite file in library_data_dir, the embedded default.
    library_db_url: str = ""
    library_data_dir: Path = Path("var/vision")
    # PostgreSQL only: the schema the tables live in (created if missing); empty = the search_path's.
    library_db_schema: str = Field(default="", pattern=r"^([a-z_][a-z0-9_]{0,62})?$")
    # How often the index drops the entries of photos older than photo_retention_days.
    library_retention_interval_s: float = Field(default=3600.0, gt=0)
    # gRPC PhotoLibraryService (with grpc.health.v1) for integrations; 0 = off.
    library_grpc_port: int = Field(default=0, ge=0, le=65535)
    # Who may call it: SHA-256 hex of each API key -> the device ids it may read
    # (JSON in SIGHTLINE_LIBRARY_API_KEYS; sightline_runtime.api_keys checks them).
    # The keys themselves are never stored or logged.
    library_api_keys: DeviceScopedKeys = Field(default_factory=dict)

    def library_url(self) -> str:
        """The index's database URL: the setting, else the SQLite file in the data dir."""
        if self.library_db_url:
            return self.library_db_url
        return f"sqlite+aiosqlite:///{(self.library_data_dir / 'photo-library.db').resolve()}"

from __future__ import annotations

from pydantic import Field
from sightline_runtime.settings import ServiceSettings


class VisionSettings(ServiceSettings):
    """vision's settings (SIGHTLINE_* variables)."""

    # --- the photo intake ---
    # How long the hub keeps photos (the "photos" object store's TTL).
    photo_retention_days: float = Field(default=30.0, gt=0)
    # Size of the photos bucket; JetStream reserves it against the store.
    photo_store_max_bytes: int = Field(default=4 << 30, gt=0)
    # Limits a stored photo must meet (the glasses check the same on capture).
    photo_max_bytes: int = Field(default=8 << 20, gt=0)
    photo_max_pixels: int = Field(default=40_000_000, gt=0)

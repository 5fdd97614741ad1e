from __future__ import annotations

from sightline_runtime.settings import ServiceSettings


class VisionSettings(ServiceSettings):
    """vision has only the runtime's settings so far (SIGHTLINE_* variables)."""

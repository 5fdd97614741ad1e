from __future__ import annotations

from sightline_runtime.settings import ServiceSettings


class CommerceSettings(ServiceSettings):
    """commerce has only the runtime's settings so far (SIGHTLINE_* variables)."""

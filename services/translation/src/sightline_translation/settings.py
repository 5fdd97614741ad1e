from __future__ import annotations

from sightline_runtime.settings import ServiceSettings


class TranslationSettings(ServiceSettings):
    """translation has only the runtime's settings so far (SIGHTLINE_* variables)."""

from __future__ import annotations

from sightline_runtime.settings import ServiceSettings


class PaymentsSettings(ServiceSettings):
    """payments has only the runtime's settings so far (SIGHTLINE_* variables)."""

from __future__ import annotations

from pydantic import Field
from sightline_runtime.settings import ServiceSettings


class OverlaySettings(ServiceSettings):
    # How long a text panel stays on the HUD unless replaced.
    panel_ttl_ms: int = Field(default=15_000, ge=0)
    # Longer typed text is cut (and marked truncated) rather than refused.
    max_text_chars: int = Field(default=2_000, gt=0)

from __future__ import annotations

from pydantic import Field
from sightline_runtime.settings import ServiceSettings


class OverlaySettings(ServiceSettings):
    # How long a text panel stays on the HUD unless replaced.
    panel_ttl_ms: int = Field(default=15_000, ge=0)
    # Longer typed text is cut (and marked truncated) rather than refused.
    max_text_chars: int = Field(default=2_000, gt=0)
    # Captions fade this long after the last change (0 = stay until replaced).
    caption_ttl_ms: int = Field(default=10_000, ge=0)
    # A transcript or translation older than this is history, not a caption.
    caption_max_age_s: float = Field(default=30.0, gt=0)
    # Caption state is kept for this many devices (least recently active dropped).
    max_caption_devices: int = Field(default=10_000, gt=0)

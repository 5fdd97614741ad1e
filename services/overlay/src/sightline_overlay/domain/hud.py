"""Where each HUD region sits on a device's display, and how much text fits.

Proportions, not pixels, so a device with another HudProfile gets the same
arrangement: status line on top, panel and cards in the middle, captions
in the lower third (the natural reading zone of a monocular display).
"""

from __future__ import annotations

from dataclasses import dataclass

from sightline.v1.common_pb2 import Rect
from sightline.v1.device_pb2 import HudProfile
from sightline.v1.display_pb2 import HudRegion

# (x, y, width, height) as fractions of the display.
_REGION_FRACTIONS: dict[int, tuple[float, float, float, float]] = {
    HudRegion.HUD_REGION_STATUS: (0.0, 0.0, 1.0, 1 / 15),
    HudRegion.HUD_REGION_LABELS: (0.0, 1 / 15, 1.0, 9 / 15),
    HudRegion.HUD_REGION_PANEL: (0.025, 0.1, 0.95, 7 / 15),
    HudRegion.HUD_REGION_CARD: (0.1, 0.1, 0.8, 8 / 15),
    HudRegion.HUD_REGION_CAPTION: (0.025, 10 / 15, 0.95, 5 / 15),
}


@dataclass(frozen=True)
class RegionBox:
    rect: Rect
    columns: int
    rows: int


def region_box(region: int, hud: HudProfile) -> RegionBox:
    fx, fy, fw, fh = _REGION_FRACTIONS[region]
    rect = Rect(
        x=round(hud.width_px * fx),
        y=round(hud.height_px * fy),
        width=round(hud.width_px * fw),
        height=round(hud.height_px * fh),
    )
    columns = max(2, rect.width // max(1, hud.cell_width_px))
    rows = max(1, rect.height // max(1, hud.line_height_px))
    return RegionBox(rect=rect, columns=columns, rows=rows)

"""Where each region sits when an update carries no bounds.

The overlay sends bounds with every update; this fallback (the same
arrangement for the default 640×480 profile) is for updates that don't,
e.g. a hand-written demo step. The page gets it in every snapshot, so the
table lives in one place.
"""

from __future__ import annotations

from sightline.v1.common_pb2 import Rect
from sightline.v1.display_pb2 import HudRegion

HUD_WIDTH_PX = 640
HUD_HEIGHT_PX = 480

DEFAULT_BOUNDS: dict[int, Rect] = {
    HudRegion.HUD_REGION_STATUS: Rect(x=0, y=0, width=640, height=32),
    HudRegion.HUD_REGION_LABELS: Rect(x=0, y=32, width=640, height=288),
    HudRegion.HUD_REGION_PANEL: Rect(x=16, y=48, width=608, height=224),
    HudRegion.HUD_REGION_CARD: Rect(x=64, y=48, width=512, height=256),
    HudRegion.HUD_REGION_CAPTION: Rect(x=16, y=320, width=608, height=160),
}


def default_bounds(region: int) -> Rect:
    return DEFAULT_BOUNDS.get(region, Rect(x=0, y=0, width=HUD_WIDTH_PX, height=HUD_HEIGHT_PX))


def layout_json() -> dict[str, dict[str, int]]:
    """The fallback table in the page's terms: region name -> {x, y, width, height}."""
    return {HudRegion.Name(region): {"x": r.x, "y": r.y, "width": r.width, "height": r.height} for region, r in DEFAULT_BOUNDS.items()}

"""What the HUD shows now: one update per region, latest-wins."""

from __future__ import annotations

from sightline.v1.display_pb2 import DisplayUpdate


class HudState:
    def __init__(self) -> None:
        self.regions: dict[int, DisplayUpdate] = {}

    def accept(self, update: DisplayUpdate) -> bool:
        """Keep `update` if it is newer than what its region shows; a late or
        replayed update (same or lower version) is dropped."""
        shown = self.regions.get(update.region)
        if shown is not None and update.region_version <= shown.region_version:
            return False
        self.regions[update.region] = update
        return True

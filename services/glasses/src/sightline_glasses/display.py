"""The glasses' own side of the display: what the HUD shows (HudState,
latest-wins per region), the local views fed with every accepted update
(the HUD page), and the bounded queue `GlassesAgent.updates()` reads.

The queue is bounded because nothing may have to read it: `sightline up
--demo` runs glasses for hours with only the HUD page watching, and an
unbounded queue kept every update it ever received. A reader that keeps up
sees every update in order (tests and the CLI print each caption partial);
one that falls behind loses, per region, all but the newest pending update
(latest-wins, the product rule for display updates), and every update so
dropped is counted.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Callable
from typing import Any

from sightline.v1.display_pb2 import DisplayUpdate, HudRegion

from sightline_glasses.hud_state import HudState

log = logging.getLogger(__name__)

# Far above what a reader that keeps up ever has pending, far below what costs memory.
DEFAULT_CAPACITY = 64
# A reader gone for good drops constantly: one log line per interval says so, not one per update.
DROP_LOG_INTERVAL_S = 60.0


class DisplayQueue:
    """Accepted display updates waiting for a reader, oldest first, at most `capacity`."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        # Room for one update of every region, so the newest of each is never what goes.
        if capacity < len(HudRegion.values()):
            raise ValueError(f"capacity {capacity} is below the number of HUD regions ({len(HudRegion.values())})")
        self.capacity = capacity
        self.dropped = 0
        self._items: collections.deque[DisplayUpdate] = collections.deque()
        self._per_region: collections.Counter[int] = collections.Counter()
        self._arrived = asyncio.Event()
        self._logged_at = float("-inf")

    def __len__(self) -> int:
        return len(self._items)

    def put(self, update: DisplayUpdate) -> None:
        self._items.append(update)
        self._per_region[update.region] += 1
        if len(self._items) > self.capacity:
            self._drop_superseded()
        self._arrived.set()

    def _drop_superseded(self) -> None:
        # The oldest update whose region has a newer one pending: nobody will miss it.
        for index, pending in enumerate(self._items):
            if self._per_region[pending.region] > 1:
                del self._items[index]
                self._per_region[pending.region] -= 1
                break
        self.dropped += 1
        now = time.monotonic()
        if now - self._logged_at >= DROP_LOG_INTERVAL_S:
            self._logged_at = now
            log.info("display updates nobody read were superseded (latest-wins per region)", extra={"dropped_total": self.dropped})

    def get_nowait(self) -> DisplayUpdate | None:
        if not self._items:
            self._arrived.clear()
            return None
        update = self._items.popleft()
        self._per_region[update.region] -= 1
        return update

    async def get(self, timeout_s: float) -> DisplayUpdate | None:
        """The oldest pending update, waiting up to timeout_s for one (None: none came)."""
        deadline = time.monotonic() + timeout_s
        while (update := self.get_nowait()) is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                async with asyncio.timeout(remaining):
                    await self._arrived.wait()
            except TimeoutError:
                return None
        return update


class Display:
    """What the glasses show, and who is told about it."""

    def __init__(self, device_id: str, *, capacity: int = DEFAULT_CAPACITY) -> None:
        self.device_id = device_id
        self.hud = HudState()
        self.pending = DisplayQueue(capacity)
        # Local views of the display (the HUD page): called with every accepted update.
        self.listeners: list[Callable[[DisplayUpdate], None]] = []
        # Called with (photo_id, content_type, data) for each photo taken, so labels can be drawn over it.
        self.photo_listeners: list[Callable[[str, str, bytes], None]] = []

    def show(self, update: DisplayUpdate) -> bool:
        """Apply `update` if it is the newest of its region; False when it was stale."""
        if not self.hud.accept(update):
            return False
        self.pending.put(update)
        notify(self.listeners, self.device_id, update)
        return True

    def photo_taken(self, photo_id: str, content_type: str, data: bytes) -> None:
        notify(self.photo_listeners, self.device_id, photo_id, content_type, data)

    def stats(self) -> dict[str, int]:
        return {"pending": len(self.pending), "dropped": self.pending.dropped}


def notify(listeners: list[Callable[..., None]], device_id: str, *args: Any) -> None:
    # A broken local view must never stop the down-link or the other views.
    for listener in list(listeners):
        try:
            listener(*args)
        except Exception:
            log.exception("local listener failed", extra={"device_id": device_id})

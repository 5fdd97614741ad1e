"""The HUD status line: is the link to the hub up, and how much is waiting.

With an edge node the agent's own connection is local and never drops, so
the link that matters is the edge's leaf connection to the hub (read from
the edge server's /leafz), and the backlog is what the edge holds that the
hub has not confirmed (the up-link consumer's pending + unacknowledged
messages, plus photos not uploaded yet).

What is shown, and when: offline at once (after a short boot grace, so
the first second of a start does not flash "offline"); a queue while
online only once it persisted status_queue_delay_s (normal traffic sits in
the outbox for a moment); and back to "online, 0 queued" once, to clear it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from nats.errors import Error as NatsError
from sightline.v1.display_pb2 import DisplayUpdate, HudRegion, Status
from sightline_runtime.events import HybridClock, new_meta

from sightline_glasses.display import Display
from sightline_glasses.hud.layout import default_bounds

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LinkState:
    online: bool
    queued: int


NOMINAL = LinkState(online=True, queued=0)


class LinkMonitor:
    def __init__(
        self,
        *,
        probe_online: Callable[[], Awaitable[bool]],
        backlog: Callable[[], Awaitable[int]],
        show: Callable[[LinkState], Awaitable[None]],
        poll_s: float = 0.5,
        queue_delay_s: float = 2.0,
        boot_grace_s: float = 3.0,
        on_change: Callable[[LinkState], None] | None = None,
    ) -> None:
        self._probe_online = probe_online
        self._backlog = backlog
        self._show = show
        self.poll_s = poll_s
        self.queue_delay_s = queue_delay_s
        self.boot_grace_s = boot_grace_s
        self.online = False
        self.queued = 0
        self.shown = NOMINAL  # the HUD starts blank, which reads as "all is well"
        self._started = time.monotonic()
        self._queued_since: float | None = None
        self._on_change = on_change
        self._lock = asyncio.Lock()
        self.changed = asyncio.Event()

    async def poll(self) -> LinkState:
        """Read the link and the backlog once, and update the HUD if it should change."""
        async with self._lock:
            return await self._poll()

    async def _poll(self) -> LinkState:
        online = await self._probe_online()
        try:
            queued = await self._backlog()
        except (NatsError, OSError, TimeoutError) as err:  # the local server restarting: keep the last count
            log.debug("backlog unknown: %s", err)
            queued = self.queued
        now = time.monotonic()
        if queued and self._queued_since is None:
            self._queued_since = now
        elif not queued:
            self._queued_since = None
        if (online, queued) != (self.online, self.queued):
            self.online, self.queued = online, queued
            self.changed.set()
            if self._on_change is not None:
                self._on_change(LinkState(online, queued))
        wanted = self._wanted(online, queued, now)
        if wanted is not None and wanted != self.shown:
            self.shown = wanted
            await self._show(wanted)
        return LinkState(online, queued)

    def _wanted(self, online: bool, queued: int, now: float) -> LinkState | None:
        if not online:
            if now - self._started < self.boot_grace_s:
                return None
            return LinkState(False, queued)
        if queued:
            persisted = self._queued_since is not None and now - self._queued_since >= self.queue_delay_s
            return LinkState(True, queued) if persisted or not self.shown.online or self.shown.queued else None
        return NOMINAL

    async def run(self) -> None:
        while True:
            try:
                await self.poll()
            except Exception:
                log.exception("link monitor poll failed")
            await asyncio.sleep(self.poll_s)

    async def wait_change(self, timeout_s: float) -> None:
        self.changed.clear()
        with contextlib.suppress(TimeoutError):  # asyncio.timeout keeps a cancel a cancel (see photo_upload)
            async with asyncio.timeout(timeout_s):
                await self.changed.wait()


class StatusLine:
    """The HUD's status region, drawn on the glasses themselves: the hub
    cannot tell them it is unreachable. Shows the link, the backlog and
    whether privacy mode is on; the camera and microphone read the same
    flag, so what the wearer sees is what the glasses do."""

    def __init__(self, device_id: str, display: Display, *, producer: str, clock: HybridClock) -> None:
        self.device_id = device_id
        self.display = display
        self.producer = producer
        self.clock = clock
        self.privacy_mode = False

    async def draw(self, state: LinkState) -> None:
        update = DisplayUpdate(
            meta=new_meta(self.device_id, self.producer),
            region=HudRegion.HUD_REGION_STATUS,
            region_version=self.clock.next("status"),
            status=Status(online=state.online, queued=state.queued, privacy_mode=self.privacy_mode),
        )
        update.bounds.CopyFrom(default_bounds(HudRegion.HUD_REGION_STATUS))
        self.display.show(update)

"""The up-link through the glasses' own edge node: the durable outbox, the
photo uploader and the link monitor, all against the local server.

Opened whole (`await EdgeLink.open(edge, show=...)`): the connection, the
outbox, the photo store, the uploader and the monitor exist before the link
does, and its background tasks run until close(). Whether the hub is
reachable, and how much waits for it, is the monitor's last reading of the
edge (its /leafz and the outbox), the only place it is kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from google.protobuf.message import Message
from nats.aio.client import Client
from sightline.v1.vision_pb2 import PhotoCaptured

from sightline_glasses.display import notify
from sightline_glasses.edge import EdgeNode
from sightline_glasses.link import UpLink, connect_device
from sightline_glasses.link_status import LinkMonitor, LinkState
from sightline_glasses.photo_upload import PhotoOutbox, PhotoUploader
from sightline_glasses.uplink import Uplink

log = logging.getLogger(__name__)


class EdgeLink(UpLink):
    def __init__(
        self,
        edge: EdgeNode,
        nc: Client,
        *,
        uplink: Uplink,
        outbox: PhotoOutbox,
        uploader: PhotoUploader,
        monitor: LinkMonitor,
        upload_listeners: list[Callable[[str], None]],
    ) -> None:
        super().__init__(edge.device_id, nc, edge.settings, upload_listeners=upload_listeners)
        self.edge = edge
        self.uplink = uplink
        self.outbox = outbox
        self.uploader = uploader
        self.monitor = monitor
        self._tasks = [
            asyncio.create_task(uploader.run(), name=f"photo-uploader-{self.device_id}"),
            asyncio.create_task(monitor.run(), name=f"link-monitor-{self.device_id}"),
        ]

    @classmethod
    async def open(
        cls,
        edge: EdgeNode,
        *,
        show: Callable[[LinkState], Awaitable[None]],
        connect_options: dict[str, Any] | None = None,
        connect_timeout_s: float = 10.0,
    ) -> EdgeLink:
        """Connect to the (started) edge node and open its stores; `show` draws the HUD status line."""
        s = edge.settings
        # Only the edge's leaf link authenticates to the hub; this connection is local.
        nc = await connect_device(edge.device_id, edge.url, connect_options=connect_options, timeout_s=connect_timeout_s)
        try:
            js = nc.jetstream()
            uplink = await Uplink.open(js, edge.device_id, s)
            outbox = await PhotoOutbox.open(js, max_bytes=s.photo_outbox_max_bytes)
            # The uploader announces to the link's listeners, which exist before either.
            listeners: list[Callable[[str], None]] = []
            uploader = PhotoUploader(
                js,
                edge.device_id,
                outbox,
                uplink,
                bucket=s.photo_bucket,
                chunk_bytes=s.photo_chunk_bytes,
                on_uploaded=lambda notice: notify(listeners, edge.device_id, notice.photo_id),
            )

            async def backlog() -> int:
                return await uplink.backlog() + await outbox.count()

            async def leaf_up() -> bool:
                return await asyncio.to_thread(edge.leaf_up)

            def changed(state: LinkState) -> None:
                log.info("hub link %s", "up" if state.online else "down", extra={"device_id": edge.device_id, "queued": state.queued})

            monitor = LinkMonitor(
                probe_online=leaf_up,
                backlog=backlog,
                show=show,
                on_change=changed,
                poll_s=s.status_poll_s,
                queue_delay_s=s.status_queue_delay_s,
                boot_grace_s=s.status_boot_grace_s,
            )
            await monitor.poll()
        except BaseException:
            await nc.close()
            raise
        return cls(edge, nc, uplink=uplink, outbox=outbox, uploader=uploader, monitor=monitor, upload_listeners=listeners)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        # Bounded: closing the glasses must never hang on a background task.
        done, stuck = await asyncio.wait(self._tasks, timeout=5.0)
        for task in done:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                task.result()
        for task in stuck:
            log.error("background task did not stop", extra={"task": task.get_name()})
        await super().close()

    # --- what the agent does through the edge ---
    async def send(self, subject: str, event: Message) -> None:
        # Into the edge outbox: stored locally now, on the hub when the link allows.
        await self.uplink.publish(subject, event)

    async def capture(self, notice: PhotoCaptured, data: bytes) -> None:
        await self.outbox.add(notice, data)
        self.uploader.wake()

    # --- state, as the monitor last read it ---
    @property
    def online(self) -> bool:
        return self.monitor.online

    @property
    def queued(self) -> int:
        return self.monitor.queued

    async def backlog(self) -> int:
        """Up-link events and photos the hub does not have yet, read now."""
        return await self.uplink.backlog() + await self.outbox.count()

    async def wait_drained(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while True:
            state = await self.monitor.poll()
            if state.queued == 0:
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.2)

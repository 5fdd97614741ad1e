"""What the agent runs when it sits on an edge node: the durable outbox,
the photo uploader and the link monitor, all against the local server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from google.protobuf.message import Message
from nats.aio.client import Client
from sightline.v1.vision_pb2 import PhotoCaptured

from sightline_glasses.edge import EdgeNode
from sightline_glasses.link_status import LinkMonitor, LinkState
from sightline_glasses.photo_upload import PhotoOutbox, PhotoUploader
from sightline_glasses.uplink import Uplink

log = logging.getLogger(__name__)


class EdgeLink:
    def __init__(self, edge: EdgeNode) -> None:
        self.edge = edge
        self.device_id = edge.device_id
        self.settings = edge.settings
        self.uplink: Uplink | None = None
        self.outbox: PhotoOutbox | None = None
        self.uploader: PhotoUploader | None = None
        self.monitor: LinkMonitor | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(
        self,
        nc: Client,
        *,
        show: Callable[[LinkState], Awaitable[None]],
        on_change: Callable[[LinkState], None],
        on_uploaded: Callable[[PhotoCaptured], None],
    ) -> None:
        s = self.settings
        js = nc.jetstream()
        self.uplink = Uplink(js, self.device_id, s)
        await self.uplink.ensure()
        self.outbox = await PhotoOutbox(js, max_bytes=s.photo_outbox_max_bytes).open()
        self.uploader = PhotoUploader(
            js, self.device_id, self.outbox, self.uplink, bucket=s.photo_bucket, chunk_bytes=s.photo_chunk_bytes, on_uploaded=on_uploaded
        )
        self.monitor = LinkMonitor(
            probe_online=self._leaf_up,
            backlog=self.backlog,
            show=show,
            on_change=on_change,
            poll_s=s.status_poll_s,
            queue_delay_s=s.status_queue_delay_s,
            boot_grace_s=s.status_boot_grace_s,
        )
        await self.monitor.poll()
        self._tasks = [
            asyncio.create_task(self.uploader.run(), name=f"photo-uploader-{self.device_id}"),
            asyncio.create_task(self.monitor.run(), name=f"link-monitor-{self.device_id}"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            # Bounded: closing the glasses must never hang on a background task.
            done, stuck = await asyncio.wait(self._tasks, timeout=5.0)
            for task in done:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    task.result()
            for task in stuck:
                log.error("background task did not stop", extra={"task": task.get_name()})
        self._tasks = []

    async def _leaf_up(self) -> bool:
        return await asyncio.to_thread(self.edge.leaf_up)

    # --- what the agent does through the edge ---
    async def send(self, subject: str, event: Message) -> None:
        assert self.uplink is not None, "start() first"
        await self.uplink.publish(subject, event)

    async def capture(self, notice: PhotoCaptured, data: bytes) -> None:
        assert self.outbox is not None, "start() first"
        assert self.uploader is not None, "start() first"
        await self.outbox.add(notice, data)
        self.uploader.wake()

    # --- state ---
    async def backlog(self) -> int:
        """Up-link events and photos the hub does not have yet."""
        assert self.uplink is not None, "start() first"
        assert self.outbox is not None, "start() first"
        return await self.uplink.backlog() + await self.outbox.count()

    @property
    def online(self) -> bool:
        return self.monitor is not None and self.monitor.online

    @property
    def queued(self) -> int:
        return self.monitor.queued if self.monitor is not None else 0

    async def wait_drained(self, timeout_s: float) -> bool:
        """Wait until the hub has everything (True) or timeout_s passed (False)."""
        assert self.monitor is not None
        deadline = time.monotonic() + timeout_s
        while True:
            state = await self.monitor.poll()
            if state.queued == 0:
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.2)

"""The glasses' up-link: one interface, two ways to reach the hub.

`DirectLink` is a plain client of the hub (`sightline glasses --direct`,
tests): an input is stored in the hub's GLASSES_UP when its publish is
acked, a photo is in the hub's object store when capture returns.
`EdgeLink` (edge_link.py) talks only to the glasses' own nats-server: inputs
and photos wait in the edge's outbox until the leaf link carries them.

A link is opened whole (`await DirectLink.open(...)`, `await
EdgeLink.open(...)`): it exists only connected, and what it knows about the
link (online, queued) is read from the connection or the edge, never kept
in a second place. Audio frames and the down-link ride the same connection
in both cases (core NATS), so the agent takes them from `link.nc`.
"""

from __future__ import annotations

import abc
import asyncio
import logging
from collections.abc import Callable
from typing import Any

import nats
from google.protobuf.message import Message
from nats.aio.client import Client
from sightline.v1.vision_pb2 import PhotoCaptured
from sightline_runtime import subjects
from sightline_runtime.auth import device_inbox_prefix
from sightline_runtime.events import event_headers
from sightline_runtime.streams import GLASSES_UP
from sightline_runtime.telemetry import inject_headers

from sightline_glasses.display import notify
from sightline_glasses.link_status import LinkState
from sightline_glasses.photo_upload import Progress, put_chunks
from sightline_glasses.settings import EdgeSettings

log = logging.getLogger(__name__)


async def connect_device(
    device_id: str,
    url: str,
    *,
    credentials_file: str | None = None,
    connect_options: dict[str, Any] | None = None,
    timeout_s: float = 10.0,
) -> Client:
    """The glasses' NATS connection. The first connect is bounded so a wrong
    URL fails fast; once up, it is retried forever (glasses lose Wi-Fi all
    the time)."""

    # A flaky link is normal for glasses: one line per event, no tracebacks.
    async def on_error(err: Exception) -> None:
        log.debug("link error: %s", err or type(err).__name__)

    async def on_disconnected() -> None:
        log.info("connection down", extra={"device_id": device_id})

    async def on_reconnected() -> None:
        log.info("connection up", extra={"device_id": device_id})

    options = {
        "max_reconnect_attempts": -1,
        "connect_timeout": 2,
        "error_cb": on_error,
        "disconnected_cb": on_disconnected,
        "reconnected_cb": on_reconnected,
        # Replies come back under the device's own prefix: the only one its permissions let it read.
        "inbox_prefix": device_inbox_prefix(device_id),
    } | (connect_options or {})
    if credentials_file:
        options["user_credentials"] = credentials_file
    return await asyncio.wait_for(nats.connect(url, name=f"glasses/{device_id}", **options), timeout_s)


class UpLink(abc.ABC):
    """How the glasses' inputs and photos reach the hub."""

    def __init__(
        self, device_id: str, nc: Client, settings: EdgeSettings, *, upload_listeners: list[Callable[[str], None]] | None = None
    ) -> None:
        self.device_id = device_id
        self.nc = nc
        self.settings = settings
        # Called with the photo id once the hub has a photo.
        self.upload_listeners = upload_listeners if upload_listeners is not None else []

    @property
    @abc.abstractmethod
    def online(self) -> bool:
        """Whether the hub is reachable now."""

    @property
    def queued(self) -> int:
        """Up-link events and photos the hub does not have yet."""
        return 0

    def state(self) -> LinkState:
        return LinkState(self.online, self.queued)

    @abc.abstractmethod
    async def send(self, subject: str, event: Message) -> None:
        """Store a durable up-link event (deduplicated by its event id)."""

    @abc.abstractmethod
    async def capture(self, notice: PhotoCaptured, data: bytes) -> None:
        """Take a checked photo into the link; the hub gets it now or later."""

    async def wait_drained(self, timeout_s: float) -> bool:
        """Wait until the hub has everything sent so far (True) or timeout_s passed (False)."""
        return True

    async def close(self) -> None:
        if not self.nc.is_closed:
            await self.nc.drain()

    def _uploaded(self, photo_id: str) -> None:
        notify(self.upload_listeners, self.device_id, photo_id)


class DirectLink(UpLink):
    """A plain client of the hub: what is acked is on the hub."""

    @classmethod
    async def open(
        cls,
        device_id: str,
        nats_url: str,
        *,
        settings: EdgeSettings | None = None,
        credentials_file: str | None = None,
        connect_options: dict[str, Any] | None = None,
        connect_timeout_s: float = 10.0,
    ) -> DirectLink:
        device_id = subjects.check_device_id(device_id)
        nc = await connect_device(
            device_id, nats_url, credentials_file=credentials_file, connect_options=connect_options, timeout_s=connect_timeout_s
        )
        return cls(device_id, nc, settings or EdgeSettings())

    @property
    def online(self) -> bool:
        return self.nc.is_connected

    async def send(self, subject: str, event: Message) -> None:
        headers = inject_headers(event_headers(event))
        await self.nc.jetstream().publish(subject, event.SerializeToString(), headers=headers, stream=GLASSES_UP.name)

    async def capture(self, notice: PhotoCaptured, data: bytes) -> None:
        """Chunks first, then the notice naming them, so vision never sees a notice before its photo."""
        js = self.nc.jetstream()

        async def in_memory(progress: Progress) -> None:
            return None  # nothing to resume from: a failed upload is the caller's error

        progress = Progress.fresh(self.device_id)
        chunk_bytes = self.settings.photo_chunk_bytes
        await put_chunks(js, self.settings.photo_bucket, data, chunk_bytes=chunk_bytes, progress=progress, save=in_memory)
        notice.upload_id = progress.nuid
        await self.send(subjects.up_photo(self.device_id), notice)
        self._uploaded(notice.photo_id)

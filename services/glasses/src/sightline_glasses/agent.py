"""The glasses agent: a plain nats-py client (the glasses are not a service)
that publishes the wearer's inputs and receives display updates for its
own device only. Each input starts a trace; its context rides in the
message headers, so the whole round trip is one trace.

On an edge node (GlassesAgent.on_edge) it talks only to the glasses' own
nats-server: inputs and photos go into the edge's outbox and reach the hub
when the link allows (edge_link), and the status line shows the link and
the backlog. Without one it is a plain client of the hub (--direct).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import nats
from google.protobuf.message import DecodeError
from nats.aio.client import Client
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind
from sightline.v1.display_pb2 import DisplayUpdate, HudRegion, Status
from sightline.v1.input_pb2 import DeviceInput, PrivacyModeRequest, TextInput
from sightline.v1.vision_pb2 import PhotoCaptured
from sightline_runtime import subjects
from sightline_runtime.auth import device_inbox_prefix
from sightline_runtime.events import HybridClock, event_headers, new_meta, now_timestamp
from sightline_runtime.streams import GLASSES_UP
from sightline_runtime.telemetry import DEVICE_ATTRIBUTE, extract_context, inject_headers

from sightline_glasses.audio import AudioUplink, read_wav
from sightline_glasses.edge import EdgeNode
from sightline_glasses.edge_link import EdgeLink
from sightline_glasses.hud.layout import default_bounds
from sightline_glasses.hud_state import HudState
from sightline_glasses.link_status import LinkState
from sightline_glasses.photo_upload import Progress, put_chunks
from sightline_glasses.photos import PhotoError, check_photo, check_photo_id
from sightline_glasses.settings import EdgeSettings

PRODUCER = "glasses"
log = logging.getLogger(__name__)


class PrivacyModeActive(RuntimeError):
    """The wearer turned privacy mode on: the camera and microphone are off."""


class GlassesAgent:
    def __init__(
        self,
        device_id: str,
        nats_url: str,
        *,
        tracer_provider: TracerProvider | None = None,
        connect_options: dict[str, Any] | None = None,
        max_update_bytes: int = 1 << 20,
        connect_timeout_s: float = 10.0,
        edge: EdgeNode | None = None,
        settings: EdgeSettings | None = None,
        credentials_file: str | None = None,
    ) -> None:
        self.device_id = subjects.check_device_id(device_id)
        self.nats_url = nats_url
        self.connect_options = connect_options or {}
        # Only a direct client authenticates itself; on an edge the edge's leaf link does.
        self.credentials_file = credentials_file
        # Camera and microphone off (the wearer's privacy mode); the hub enforces it too.
        self.privacy_mode = False
        self.max_update_bytes = max_update_bytes
        self.connect_timeout_s = connect_timeout_s
        self.tracer = (tracer_provider or trace.get_tracer_provider()).get_tracer("sightline.glasses")
        self.hud = HudState()
        self.nc: Client | None = None
        self._updates: asyncio.Queue[DisplayUpdate] = asyncio.Queue()
        self._seq = HybridClock()
        self._sub = None
        self.online = False
        # Local views of the display (the HUD page): called with every accepted update.
        self.display_listeners: list[Callable[[DisplayUpdate], None]] = []
        # Called with (photo_id, content_type, data) for each photo taken, so labels can be drawn over it.
        self.photo_listeners: list[Callable[[str, str, bytes], None]] = []
        # On an edge node: the outbox, photo uploader and link monitor.
        self.settings = settings or (edge.settings if edge is not None else EdgeSettings())
        self.edge_link = EdgeLink(edge) if edge is not None else None
        # Called with the photo id once the hub has a photo (edge mode).
        self.upload_listeners: list[Callable[[str], None]] = []

    @classmethod
    def on_edge(cls, edge: EdgeNode, **options: Any) -> GlassesAgent:
        """An agent that talks only to the glasses' own (started) edge node."""
        return cls(edge.device_id, edge.url, edge=edge, **options)

    async def connect(self) -> GlassesAgent:
        # The first connection is bounded so a wrong URL fails fast; once up,
        # the link is retried forever (glasses lose Wi-Fi all the time).
        options = {
            "max_reconnect_attempts": -1,
            "connect_timeout": 2,
            "error_cb": self._on_link_error,
            "disconnected_cb": self._on_disconnected,
            "reconnected_cb": self._on_reconnected,
            # Replies come back under the device's own prefix: the only one its permissions let it read.
            "inbox_prefix": device_inbox_prefix(self.device_id),
        } | self.connect_options
        if self.credentials_file:
            options["user_credentials"] = self.credentials_file
        self.nc = await asyncio.wait_for(nats.connect(self.nats_url, name=f"glasses/{self.device_id}", **options), self.connect_timeout_s)
        self._sub = await self.nc.subscribe(subjects.down_display(self.device_id), cb=self._on_display)
        if self.edge_link is None:
            self.online = True
        else:
            # The connection is local; online means the edge's leaf link to the hub.
            await self.edge_link.start(self.nc, show=self._show_status, on_change=self._on_link_change, on_uploaded=self._on_uploaded)
            self.online = self.edge_link.online
        return self

    # A flaky link is normal for glasses: one line per event, no tracebacks.
    async def _on_link_error(self, err: Exception) -> None:
        log.debug("link error: %s", err or type(err).__name__)

    async def _on_disconnected(self) -> None:
        self.online = False
        log.info("link down", extra={"device_id": self.device_id})

    async def _on_reconnected(self) -> None:
        self.online = True if self.edge_link is None else self.edge_link.online
        log.info("link up", extra={"device_id": self.device_id})

    async def close(self) -> None:
        if self.edge_link is not None:
            await self.edge_link.stop()
        if self.nc is not None and not self.nc.is_closed:
            await self.nc.drain()

    async def __aenter__(self) -> GlassesAgent:
        return await self.connect()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- up-link ---
    async def send_text(self, text: str, *, language: str = "") -> str:
        event = DeviceInput(meta=self._meta(), text=TextInput(text=text, language=language))
        return await self.send_input(event)

    async def send_input(self, event: DeviceInput) -> str:
        """Store the input in JetStream (deduplicated by its event id)."""
        assert self.nc is not None, "connect() first"
        with self.tracer.start_as_current_span(
            f"glasses.input.{event.WhichOneof('input')}",
            kind=SpanKind.PRODUCER,
            attributes={DEVICE_ATTRIBUTE: self.device_id, "sightline.event_id": event.meta.event_id},
        ):
            if self.edge_link is not None:
                # Into the edge outbox: stored locally now, on the hub when the link allows.
                await self.edge_link.send(subjects.up_input(self.device_id), event)
                return event.meta.event_id
            headers = inject_headers(event_headers(event))
            await self.nc.jetstream().publish(
                subjects.up_input(self.device_id), event.SerializeToString(), headers=headers, stream=GLASSES_UP.name
            )
        return event.meta.event_id

    # --- privacy ---
    async def set_privacy(self, enabled: bool) -> str:
        """Turn privacy mode on or off: the camera and microphone stop here at
        once, and the request goes up the durable up-link so the hub stops
        processing this device's camera and microphone data too."""
        self.privacy_mode = enabled
        event = DeviceInput(meta=self._meta(), privacy=PrivacyModeRequest(enabled=enabled))
        event_id = await self.send_input(event)
        await self._redraw_status()
        return event_id

    def _check_privacy(self, what: str) -> None:
        if self.privacy_mode:
            raise PrivacyModeActive(f"privacy mode is on: the {what} is off (nothing was captured or sent)")

    # --- camera ---
    async def send_photo(
        self, data: bytes, *, content_type: str | None = None, photo_id: str | None = None, target_language: str = ""
    ) -> str:
        """Take a photo: check it is a real JPEG/PNG within the limits (else
        PhotoError), show it locally, and send it up: on an edge node into the
        outbox (uploaded when the link allows), otherwise straight to the
        hub's object store. Returns the photo id."""
        assert self.nc is not None, "connect() first"
        # Dropped at the edge: a photo taken in privacy mode never exists.
        self._check_privacy("camera")
        photo = check_photo(data, max_bytes=self.settings.photo_max_bytes, max_pixels=self.settings.photo_max_pixels)
        if content_type and content_type != photo.content_type:
            raise PhotoError(f"the photo is {photo.content_type}, not {content_type}")
        photo_id = check_photo_id(photo_id or uuid.uuid4().hex)
        notice = PhotoCaptured(
            meta=new_meta(self.device_id, PRODUCER, seq=self._seq.next("photo")),
            photo_id=photo_id,
            content_type=photo.content_type,
            size_bytes=len(photo.data),
            sha256=photo.sha256,
            target_language=target_language,
        )
        notice.captured_at.CopyFrom(now_timestamp())
        with self.tracer.start_as_current_span(
            "glasses.photo.capture",
            kind=SpanKind.PRODUCER,
            attributes={DEVICE_ATTRIBUTE: self.device_id, "sightline.photo_id": photo_id, "sightline.event_id": notice.meta.event_id},
        ):
            if self.edge_link is not None:
                await self.edge_link.capture(notice, photo.data)
            else:
                await self._upload_directly(notice, photo.data)
        self.photo_taken(photo_id, photo.content_type, photo.data)
        return photo_id

    async def _upload_directly(self, notice: PhotoCaptured, data: bytes) -> None:
        """Without an edge: chunks first, then the notice naming them, so vision never sees a notice before its photo."""
        assert self.nc is not None
        js = self.nc.jetstream()

        async def in_memory(progress: Progress) -> None:
            return None

        progress = Progress.fresh(self.device_id)
        chunk_bytes = self.settings.photo_chunk_bytes
        await put_chunks(js, self.settings.photo_bucket, data, chunk_bytes=chunk_bytes, progress=progress, save=in_memory)
        notice.upload_id = progress.nuid
        headers = inject_headers(event_headers(notice))
        await js.publish(subjects.up_photo(self.device_id), notice.SerializeToString(), headers=headers, stream=GLASSES_UP.name)

    # --- the edge link ---
    @property
    def queued(self) -> int:
        """Up-link events and photos the hub does not have yet (0 without an edge)."""
        return self.edge_link.queued if self.edge_link is not None else 0

    async def wait_drained(self, timeout_s: float) -> bool:
        """Wait until the hub has everything this edge queued; False on timeout."""
        return True if self.edge_link is None else await self.edge_link.wait_drained(timeout_s)

    def _on_link_change(self, state: LinkState) -> None:
        if state.online != self.online:
            log.info("hub link %s", "up" if state.online else "down", extra={"device_id": self.device_id, "queued": state.queued})
        self.online = state.online

    def _on_uploaded(self, notice: PhotoCaptured) -> None:
        self._notify(self.upload_listeners, notice.photo_id)

    async def _redraw_status(self) -> None:
        state = LinkState(self.online, self.queued) if self.edge_link is not None else LinkState(True, 0)
        await self._show_status(state)

    async def _show_status(self, state: LinkState) -> None:
        """The status line is drawn here, on the glasses: the hub cannot tell them it is unreachable."""
        update = DisplayUpdate(
            meta=new_meta(self.device_id, PRODUCER),
            region=HudRegion.HUD_REGION_STATUS,
            region_version=self._seq.next("status"),
            status=Status(online=state.online, queued=state.queued, privacy_mode=self.privacy_mode),
        )
        update.bounds.CopyFrom(default_bounds(HudRegion.HUD_REGION_STATUS))
        if self.hud.accept(update):
            await self._updates.put(update)
            self._notify(self.display_listeners, update)

    def _meta(self):
        return new_meta(self.device_id, PRODUCER, seq=self._seq.next("input"))

    # --- microphone ---
    def audio_uplink(self, *, source_language: str = "en", target_language: str = "", frame_ms: int = 20) -> AudioUplink:
        """A new microphone session (its own stream_id) for sending audio as it is captured."""
        assert self.nc is not None, "connect() first"
        self._check_privacy("microphone")
        return AudioUplink(
            self.nc, self.device_id, source_language=source_language, target_language=target_language, frame_ms=frame_ms, clock=self._seq
        )

    async def say(self, path: str | Path, *, source_language: str = "en", target_language: str = "", realtime: bool = True) -> str:
        """Play a WAV file into the microphone as one session; returns its stream_id.
        Raises AudioFileError for a file that is not a readable WAV."""
        pcm = read_wav(path)
        uplink = self.audio_uplink(source_language=source_language, target_language=target_language)
        with self.tracer.start_as_current_span(
            "glasses.audio.say",
            kind=SpanKind.PRODUCER,
            attributes={DEVICE_ATTRIBUTE: self.device_id, "sightline.stream_id": uplink.stream_id},
        ):
            await uplink.send(pcm, end_of_stream=True, realtime=realtime)
        return uplink.stream_id

    # --- down-link ---
    async def _on_display(self, msg: Any) -> None:
        if len(msg.data) > self.max_update_bytes:
            log.warning("display update over the size limit dropped", extra={"size": len(msg.data)})
            return
        update = DisplayUpdate()
        try:
            update.ParseFromString(msg.data)
        except DecodeError:
            log.warning("undecodable display update dropped", extra={"size": len(msg.data)})
            return
        if update.meta.device_id != self.device_id:
            log.warning("display update for another device dropped", extra={"other_device": update.meta.device_id})
            return
        with self.tracer.start_as_current_span(
            "glasses.display.receive",
            context=extract_context(msg.headers),
            kind=SpanKind.CONSUMER,
            attributes={DEVICE_ATTRIBUTE: self.device_id, "sightline.region": update.region},
        ):
            if self.hud.accept(update):
                await self._updates.put(update)
                self._notify(self.display_listeners, update)

    def photo_taken(self, photo_id: str, content_type: str, data: bytes) -> None:
        """Photo capture calls this so local views can show the photo labels anchor to."""
        self._notify(self.photo_listeners, photo_id, content_type, data)

    def _notify(self, listeners: list[Callable[..., None]], *args: Any) -> None:
        # A broken local view must never stop the down-link or the other views.
        for listener in list(listeners):
            try:
                listener(*args)
            except Exception:
                log.exception("local listener failed", extra={"device_id": self.device_id})

    async def updates(self, idle_timeout_s: float) -> AsyncIterator[DisplayUpdate]:
        """Display updates as they arrive, until none came for idle_timeout_s."""
        while True:
            try:
                yield await asyncio.wait_for(self._updates.get(), idle_timeout_s)
            except TimeoutError:
                return

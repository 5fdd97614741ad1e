"""The glasses agent: a plain nats-py client (the glasses are not a service)
that publishes the wearer's inputs and receives display updates for its
own device only. Each input starts a trace; its context rides in the
message headers, so the whole round trip is one trace.

The agent sits on one up-link (sightline_glasses.link): an EdgeLink when the
glasses run their own nats-server (GlassesAgent.on_edge: inputs and photos
wait in the edge's outbox until the hub has them, the status line shows the
link and the backlog), a DirectLink when they are a plain client of the hub
(GlassesAgent.connect, --direct). Nothing here asks which one it has.

Both links carry the down-link on the same connection: display updates
(glasses.<device>.down.display) for the HUD, and commands
(glasses.<device>.down.command, DeviceCommand) the glasses act on
themselves: take a photo with their camera source, turn conversation
translation on or off (sightline_glasses.commands checks each one first).

An agent is opened whole, connected and listening:

    async with GlassesAgent.connect("a", url) as agent: ...
    agent = await GlassesAgent.on_edge(edge)   # ... await agent.close()
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from pathlib import Path
from typing import Any, Generic, TypeVar

from google.protobuf.message import DecodeError
from nats.aio.client import Client
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind
from sightline.v1.device_pb2 import DeviceCommand
from sightline.v1.display_pb2 import DisplayUpdate
from sightline.v1.input_pb2 import DeviceInput, PrivacyModeRequest, TextInput
from sightline.v1.vision_pb2 import PhotoCaptured
from sightline_runtime import subjects
from sightline_runtime.events import HybridClock, new_meta, now_timestamp
from sightline_runtime.telemetry import DEVICE_ATTRIBUTE, extract_context

from sightline_glasses.audio import AudioUplink, read_wav
from sightline_glasses.camera import Camera
from sightline_glasses.commands import CommandInbox
from sightline_glasses.conversation import Conversation
from sightline_glasses.display import DEFAULT_CAPACITY, Display, notify
from sightline_glasses.edge import EdgeNode
from sightline_glasses.edge_link import EdgeLink
from sightline_glasses.hud_state import HudState
from sightline_glasses.link import DirectLink, UpLink
from sightline_glasses.link_status import StatusLine
from sightline_glasses.photo_upload import HubUnreachable, PhotoStoreFull
from sightline_glasses.photos import PhotoError, check_photo, check_photo_id
from sightline_glasses.settings import EdgeSettings
from sightline_glasses.uplink import UplinkFull

PRODUCER = "glasses"
log = logging.getLogger(__name__)


class PrivacyModeActive(RuntimeError):
    """The wearer turned privacy mode on: the camera and microphone are off."""


class NoCamera(RuntimeError):
    """These glasses have no camera source (the simulator's --camera)."""


# What taking a photo may fail with, short of a bug.
CAPTURE_ERRORS = (PhotoError, PhotoStoreFull, UplinkFull, HubUnreachable, PrivacyModeActive, NoCamera)


T = TypeVar("T")


class Opening(Generic[T]):
    """An agent being opened: `await` it, or `async with` it (closed on exit)."""

    def __init__(self, open_: Callable[[], Awaitable[T]]) -> None:
        self._open = open_
        self._opened: T | None = None

    def __await__(self) -> Generator[Any, None, T]:
        return self._open().__await__()

    async def __aenter__(self) -> T:
        self._opened = await self._open()
        return self._opened

    async def __aexit__(self, *exc: object) -> None:
        if self._opened is not None:
            await self._opened.close()  # type: ignore[attr-defined]


class GlassesAgent:
    def __init__(
        self,
        link: UpLink,
        display: Display,
        status: StatusLine,
        *,
        clock: HybridClock,
        tracer_provider: TracerProvider | None = None,
        max_update_bytes: int = 1 << 20,
        camera: Camera | None = None,
        conversation: Conversation | None = None,
    ) -> None:
        """An agent on an open link; use GlassesAgent.connect / on_edge, which open one."""
        self.link = link
        self.display = display
        self.status = status
        self.device_id = link.device_id
        self.settings = link.settings
        self.max_update_bytes = max_update_bytes
        self.tracer = (tracer_provider or trace.get_tracer_provider()).get_tracer("sightline.glasses")
        self._seq = clock
        self.camera = camera
        # The languages microphone sessions follow (ConversationTranslation changes them).
        self.conversation = conversation or Conversation()
        s = self.settings
        self.commands = CommandInbox(self.device_id, max_bytes=s.command_max_bytes, memory=s.command_memory, max_age_s=s.command_max_age_s)
        # Called with (command, outcome, detail) for every command acted on, for local views and the CLI.
        self.command_listeners: list[Callable[[DeviceCommand, str, str], None]] = []

    # --- opening ---
    @classmethod
    def connect(
        cls,
        device_id: str,
        nats_url: str,
        *,
        credentials_file: str | None = None,
        settings: EdgeSettings | None = None,
        connect_options: dict[str, Any] | None = None,
        connect_timeout_s: float = 10.0,
        **options: Any,
    ) -> Opening[GlassesAgent]:
        """Glasses that are a plain client of the hub at `nats_url`."""

        async def open_link(show: Callable[..., Awaitable[None]]) -> UpLink:
            return await DirectLink.open(
                device_id,
                nats_url,
                settings=settings,
                credentials_file=credentials_file,
                connect_options=connect_options,
                connect_timeout_s=connect_timeout_s,
            )

        return Opening(lambda: cls._open(subjects.check_device_id(device_id), open_link, **options))

    @classmethod
    def on_edge(
        cls, edge: EdgeNode, *, connect_options: dict[str, Any] | None = None, connect_timeout_s: float = 10.0, **options: Any
    ) -> Opening[GlassesAgent]:
        """Glasses that talk only to their own (started) edge node."""

        async def open_link(show: Callable[..., Awaitable[None]]) -> UpLink:
            return await EdgeLink.open(edge, show=show, connect_options=connect_options, connect_timeout_s=connect_timeout_s)

        return Opening(lambda: cls._open(edge.device_id, open_link, **options))

    @classmethod
    async def _open(
        cls,
        device_id: str,
        open_link: Callable[[Callable[..., Awaitable[None]]], Awaitable[UpLink]],
        *,
        tracer_provider: TracerProvider | None = None,
        max_update_bytes: int = 1 << 20,
        display_capacity: int = DEFAULT_CAPACITY,
        camera: Camera | None = None,
        conversation: Conversation | None = None,
    ) -> GlassesAgent:
        # The display and the status line exist first: an edge link draws the status from its first poll.
        clock = HybridClock()
        display = Display(device_id, capacity=display_capacity)
        status = StatusLine(device_id, display, producer=PRODUCER, clock=clock)
        link = await open_link(status.draw)
        try:
            agent = cls(
                link,
                display,
                status,
                clock=clock,
                tracer_provider=tracer_provider,
                max_update_bytes=max_update_bytes,
                camera=camera,
                conversation=conversation,
            )
            await link.nc.subscribe(subjects.down_display(device_id), cb=agent._on_display)
            await link.nc.subscribe(subjects.down_command(device_id), cb=agent._on_command)
            # Both subscriptions are on the server (and, on an edge, their interest on its way to the hub) when open returns.
            await link.nc.flush()
        except BaseException:
            await link.close()
            raise
        return agent

    async def close(self) -> None:
        await self.link.close()

    async def __aenter__(self) -> GlassesAgent:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- what the link knows ---
    @property
    def nc(self) -> Client:
        """The connection (the hub's, or the edge's): audio frames and the down-link ride it."""
        return self.link.nc

    @property
    def online(self) -> bool:
        return self.link.online

    @property
    def queued(self) -> int:
        """Up-link events and photos the hub does not have yet (0 on a direct link)."""
        return self.link.queued

    async def wait_drained(self, timeout_s: float) -> bool:
        """Wait until the hub has everything sent so far; False on timeout."""
        return await self.link.wait_drained(timeout_s)

    # --- the display, for local views ---
    @property
    def hud(self) -> HudState:
        return self.display.hud

    @property
    def display_listeners(self) -> list[Callable[[DisplayUpdate], None]]:
        return self.display.listeners

    @property
    def photo_listeners(self) -> list[Callable[[str, str, bytes], None]]:
        return self.display.photo_listeners

    @property
    def upload_listeners(self) -> list[Callable[[str], None]]:
        """Called with the photo id once the hub has a photo."""
        return self.link.upload_listeners

    @property
    def privacy_mode(self) -> bool:
        return self.status.privacy_mode

    # --- up-link ---
    async def send_text(self, text: str, *, language: str = "") -> str:
        event = DeviceInput(meta=self._meta(), text=TextInput(text=text, language=language))
        return await self.send_input(event)

    async def send_input(self, event: DeviceInput) -> str:
        """Send a durable input (deduplicated by its event id); returns the event id."""
        with self.tracer.start_as_current_span(
            f"glasses.input.{event.WhichOneof('input')}",
            kind=SpanKind.PRODUCER,
            attributes={DEVICE_ATTRIBUTE: self.device_id, "sightline.event_id": event.meta.event_id},
        ):
            await self.link.send(subjects.up_input(self.device_id), event)
        return event.meta.event_id

    # --- privacy ---
    async def set_privacy(self, enabled: bool) -> str:
        """Turn privacy mode on or off: the camera and microphone stop here at
        once, and the request goes up the durable up-link so the hub stops
        processing this device's camera and microphone data too."""
        self.status.privacy_mode = enabled
        event = DeviceInput(meta=self._meta(), privacy=PrivacyModeRequest(enabled=enabled))
        event_id = await self.send_input(event)
        await self.status.draw(self.link.state())
        return event_id

    def _check_privacy(self, what: str) -> None:
        if self.status.privacy_mode:
            raise PrivacyModeActive(f"privacy mode is on: the {what} is off (nothing was captured or sent)")

    # --- camera ---
    async def send_photo(
        self,
        data: bytes,
        *,
        content_type: str | None = None,
        photo_id: str | None = None,
        target_language: str = "",
        causation_id: str = "",
    ) -> str:
        """Take a photo: check it is a real JPEG/PNG within the limits (else
        PhotoError), show it locally, and send it up the link (on an edge
        node into the outbox, uploaded when the link allows; directly,
        straight to the hub's object store). Returns the photo id."""
        # Dropped at the edge: a photo taken in privacy mode never exists.
        self._check_privacy("camera")
        photo = check_photo(data, max_bytes=self.settings.photo_max_bytes, max_pixels=self.settings.photo_max_pixels)
        if content_type and content_type != photo.content_type:
            raise PhotoError(f"the photo is {photo.content_type}, not {content_type}")
        photo_id = check_photo_id(photo_id or uuid.uuid4().hex)
        notice = PhotoCaptured(
            meta=new_meta(self.device_id, PRODUCER, seq=self._seq.next("photo"), causation_id=causation_id),
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
            await self.link.capture(notice, photo.data)
        self.photo_taken(photo_id, photo.content_type, photo.data)
        return photo_id

    async def take_photo(self, *, target_language: str | None = None, causation_id: str = "") -> str:
        """Press the capture button: the camera source's next image is taken
        and sent exactly as send_photo does. Its labels are in
        `target_language`, by default the conversation's ("" = the device's
        default). Raises NoCamera without a camera source."""
        self._check_privacy("camera")
        if self.camera is None:
            raise NoCamera(f"glasses {self.device_id!r} have no camera source (sightline glasses --camera PATH): no photo taken")
        path, photo = await asyncio.to_thread(self.camera.shoot)
        language = self.conversation.current.target if target_language is None else target_language
        photo_id = await self.send_photo(photo.data, content_type=photo.content_type, target_language=language, causation_id=causation_id)
        log.info("photo %s taken from the camera source (%s)", photo_id, path.name, extra={"device_id": self.device_id})
        return photo_id

    def _meta(self):
        return new_meta(self.device_id, PRODUCER, seq=self._seq.next("input"))

    # --- microphone ---
    def audio_uplink(self, *, source_language: str | None = None, target_language: str | None = None, frame_ms: int = 20) -> AudioUplink:
        """A new microphone session (its own stream_id) for sending audio as it is captured.
        Without languages it follows the agent's conversation, frame by frame
        (a ConversationTranslation command changes it); with them, they are fixed."""
        self._check_privacy("microphone")
        follows = source_language is None and target_language is None
        conversation = (
            self.conversation
            if follows
            else Conversation(
                self.conversation.current.source if source_language is None else source_language,
                self.conversation.current.target if target_language is None else target_language,
            )
        )
        return AudioUplink(self.nc, self.device_id, frame_ms=frame_ms, clock=self._seq, conversation=conversation)

    async def say(
        self, path: str | Path, *, source_language: str | None = None, target_language: str | None = None, realtime: bool = True
    ) -> str:
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
            self.display.show(update)

    async def _on_command(self, msg: Any) -> None:
        command = self.commands.admit(msg.data, msg.subject)
        if command is None:
            return
        kind = command.WhichOneof("command")
        with self.tracer.start_as_current_span(
            f"glasses.command.{kind}",
            context=extract_context(msg.headers),
            kind=SpanKind.CONSUMER,
            attributes={DEVICE_ATTRIBUTE: self.device_id, "sightline.event_id": command.meta.event_id},
        ):
            try:
                outcome, detail = await self._act(command)
            except Exception as exc:  # a bug acting on one command must not stop the down-link
                log.exception("device command %s (%s) failed", command.meta.event_id, kind, extra={"device_id": self.device_id})
                outcome, detail = "failed", f"{type(exc).__name__}: {exc}"
        self.commands.done(command, outcome)
        notify(self.command_listeners, self.device_id, command, outcome, detail)

    async def _act(self, command: DeviceCommand) -> tuple[str, str]:
        """Do what `command` asks; (outcome, detail) for the count and the listeners."""
        event_id = command.meta.event_id
        context = {"device_id": self.device_id, "event_id": event_id, "producer": command.meta.producer}
        if command.HasField("take_photo"):
            purpose = command.take_photo.purpose[:64]  # for the log only: a sender's free text
            try:
                photo_id = await self.take_photo(causation_id=event_id)
            except CAPTURE_ERRORS as exc:
                outcome = {NoCamera: "no_camera", PrivacyModeActive: "privacy_mode"}.get(type(exc), "failed")
                log.warning("TakePhoto command %s (purpose %r) not done: %s", event_id, purpose, exc, extra=context | {"outcome": outcome})
                return outcome, str(exc)
            log.info("TakePhoto command %s (purpose %r): photo %s", event_id, purpose, photo_id, extra=context)
            return "done", photo_id
        translation = command.conversation_translation
        if translation.enabled:
            self.conversation.start(source=translation.source_language, target=translation.target_language)
        else:
            self.conversation.stop()
        languages = self.conversation.current
        detail = f"{languages.source or 'detect'} -> {languages.target}" if languages.target else f"off ({languages.source or 'detect'})"
        log.info("ConversationTranslation command %s: %s", event_id, detail, extra=context)
        return "done", detail

    def photo_taken(self, photo_id: str, content_type: str, data: bytes) -> None:
        """Photo capture calls this so local views can show the photo labels anchor to."""
        self.display.photo_taken(photo_id, content_type, data)

    async def updates(self, idle_timeout_s: float) -> AsyncIterator[DisplayUpdate]:
        """Display updates as they arrive, until none came for idle_timeout_s.
        A reader that falls behind gets the newest update of each region
        (see sightline_glasses.display); display_dropped counts the rest."""
        while (update := await self.display.pending.get(idle_timeout_s)) is not None:
            yield update

    @property
    def display_dropped(self) -> int:
        return self.display.pending.dropped

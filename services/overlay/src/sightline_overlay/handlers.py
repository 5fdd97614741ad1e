"""Overlay handlers: turn events into display updates for one device."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict

from google.protobuf.timestamp_pb2 import Timestamp
from prometheus_client import Counter
from sightline.v1.asr_pb2 import Transcript
from sightline.v1.display_pb2 import DisplayUpdate, HudRegion
from sightline.v1.errors_pb2 import ErrorCode
from sightline.v1.input_pb2 import DeviceInput
from sightline.v1.translation_pb2 import TextOrigin, Translation
from sightline_runtime import subjects
from sightline_runtime.codec import EventRejected
from sightline_runtime.consumer import EventContext
from sightline_runtime.devices import DEFAULT_HUD
from sightline_runtime.events import HybridClock, new_meta
from sightline_runtime.publisher import EventPublisher

from sightline_overlay.domain.captions import CaptionBoard
from sightline_overlay.domain.hud import region_box
from sightline_overlay.domain.panel import panel_update
from sightline_overlay.settings import OverlaySettings

SERVICE = "overlay"
log = logging.getLogger(__name__)


class OverlayHandlers:
    def __init__(self, publisher: EventPublisher, settings: OverlaySettings, display_updates: Counter) -> None:
        self.publisher = publisher
        self.settings = settings
        self.display_updates = display_updates
        # Latest-wins ordering per (device, region) that survives restarts.
        self.versions = HybridClock()
        self.boards: OrderedDict[str, CaptionBoard] = OrderedDict()

    async def on_device_input(self, event: DeviceInput, ctx: EventContext) -> None:
        """Typed text goes to the panel; other inputs belong to other services."""
        if event.WhichOneof("input") != "text":
            return
        text = event.text.text
        if not text.strip():
            raise EventRejected(ErrorCode.ERROR_CODE_INVALID, "text input is empty", event_id=ctx.event_id, device_id=ctx.device_id)
        hud = ctx.device.hud if ctx.device is not None and ctx.device.hud.width_px else DEFAULT_HUD
        update = panel_update(text[: self.settings.max_text_chars], event.text.language, hud, ttl_ms=self.settings.panel_ttl_ms)
        await self.send(ctx.device_id, update, causation_id=ctx.event_id)

    async def on_transcript(self, event: Transcript, ctx: EventContext) -> None:
        """Partial and final transcripts (asr.partial.* / asr.final.*)."""
        if self._stale(event.meta.created_at):
            return
        if self._board(ctx.device_id).on_transcript(event):
            await self._send_captions(ctx)

    async def on_translation(self, event: Translation, ctx: EventContext) -> None:
        """Speech translations (translation.partial.* / translation.final.*)."""
        if event.origin != TextOrigin.TEXT_ORIGIN_SPEECH or self._stale(event.meta.created_at):
            return
        if self._board(ctx.device_id).on_translation(event):
            await self._send_captions(ctx)

    def _stale(self, created_at: Timestamp) -> bool:
        return created_at.seconds > 0 and time.time() - created_at.ToNanoseconds() / 1e9 > self.settings.caption_max_age_s

    def _board(self, device_id: str) -> CaptionBoard:
        board = self.boards.pop(device_id, None) or CaptionBoard()
        self.boards[device_id] = board  # most recently active last
        while len(self.boards) > self.settings.max_caption_devices:
            self.boards.popitem(last=False)
        return board

    async def _send_captions(self, ctx: EventContext) -> None:
        hud = ctx.device.hud if ctx.device is not None and ctx.device.hud.width_px else DEFAULT_HUD
        box = region_box(HudRegion.HUD_REGION_CAPTION, hud)
        update = DisplayUpdate(region=HudRegion.HUD_REGION_CAPTION, ttl_ms=self.settings.caption_ttl_ms)
        update.bounds.CopyFrom(box.rect)
        update.caption.CopyFrom(self.boards[ctx.device_id].render(box.columns, box.rows))
        await self.send(ctx.device_id, update, causation_id=ctx.event_id)

    async def send(self, device_id: str, update: DisplayUpdate, *, causation_id: str) -> None:
        version = self.versions.next((device_id, update.region))
        update.region_version = version
        update.meta.CopyFrom(new_meta(device_id, SERVICE, seq=version, causation_id=causation_id))
        # Core NATS on purpose: a display update is only worth showing now;
        # a glasses that was away gets the next one, never a replay of stale ones.
        await self.publisher.publish(subjects.down_display(device_id), update)
        self.display_updates.labels(HudRegion.Name(update.region).removeprefix("HUD_REGION_").lower()).inc()

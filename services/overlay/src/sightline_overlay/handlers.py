"""Overlay handlers: turn events into display updates for one device.

Never silent: with a presence tracker (sightline_runtime.presence), the
caption region of a recently active device says "Captions unavailable"
within about two seconds of the last speech-recognition instance for its
audio going away, and clears when one is back; a final whose translation is
late, cannot come or failed says so in place of the translation. A check
loop (`start`) drives both: it re-asks presence only when presence changed.

Labels (domain/photo_labels.py): a VisionResult shows its labels at once,
replacing the device's last photo's; its Translation swaps in the
translations; a timer per device marks labels still untranslated "late".

Cards (domain/cards.py): the assistant's AssistantReply becomes the
device's card, latest wins; a reply older than card_max_age_s is not
shown, except reminders and notifications, which show late with their time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict

from google.protobuf.timestamp_pb2 import Timestamp
from prometheus_client import CollectorRegistry, Counter
from sightline.v1.asr_pb2 import Transcript
from sightline.v1.assistant_pb2 import AssistantReply
from sightline.v1.device_pb2 import DeviceRecord, HudProfile
from sightline.v1.display_pb2 import ClearRegion, DisplayUpdate, HudRegion
from sightline.v1.errors_pb2 import ErrorCode
from sightline.v1.input_pb2 import DeviceInput
from sightline.v1.translation_pb2 import TextOrigin, Translation
from sightline.v1.vision_pb2 import VisionResult
from sightline_runtime import partitions, subjects
from sightline_runtime.codec import EventRejected
from sightline_runtime.consumer import EventContext
from sightline_runtime.devices import DEFAULT_HUD, DeviceDirectory
from sightline_runtime.events import HybridClock, new_meta
from sightline_runtime.logs import RateLimitedLog
from sightline_runtime.publisher import EventPublisher

from sightline_overlay.domain.availability import CAPTIONS_NOTICE_ID, CAPTIONS_UNAVAILABLE, CaptionAvailability, Presence
from sightline_overlay.domain.captions import CaptionBoard, caption_region, wants_translation
from sightline_overlay.domain.cards import CardLimits, InvalidReply, kind_name, reply_age_s, reply_card, shown_late, time_label
from sightline_overlay.domain.hud import region_box
from sightline_overlay.domain.labels import LabelStyle
from sightline_overlay.domain.panel import panel_update
from sightline_overlay.domain.photo_labels import (
    InvalidPhoto,
    LabelBoard,
    LabelLimits,
    PhotoLabels,
    anchored_labels,
    photo_labels,
    taken_ns,
)
from sightline_overlay.metrics import CardMetrics, LabelMetrics
from sightline_overlay.recall import StreamRecall
from sightline_overlay.settings import OverlaySettings

SERVICE = "overlay"
log = logging.getLogger(__name__)


class OverlayHandlers:
    def __init__(
        self,
        publisher: EventPublisher,
        settings: OverlaySettings,
        display_updates: Counter,
        *,
        presence: Presence | None = None,
        devices: DeviceDirectory | None = None,
        label_metrics: LabelMetrics | None = None,
        recall: StreamRecall | None = None,
        card_metrics: CardMetrics | None = None,
    ) -> None:
        self.publisher = publisher
        self.settings = settings
        self.display_updates = display_updates
        # Latest-wins ordering per (device, region) that survives restarts.
        self.versions = HybridClock()
        self.boards: OrderedDict[str, CaptionBoard] = OrderedDict()
        # When each device's captions last changed (they fade caption_ttl_ms later).
        self._changed_at: dict[str, float] = {}
        # Devices with a final waiting for its translation (checked by the loop).
        self._waiting: set[str] = set()
        self.presence = presence
        self.devices = devices
        self.availability = (
            CaptionAvailability(
                presence,
                service=settings.caption_speech_service,
                audio_subject=self._audio_subject,
                window_s=settings.caption_recent_window_s,
                max_devices=settings.max_caption_devices,
            )
            if presence is not None
            else None
        )
        self._task: asyncio.Task[None] | None = None
        self.limited_log = RateLimitedLog(log)
        # --- labels ---
        self.label_metrics = label_metrics or LabelMetrics.register(CollectorRegistry())
        # Streams to look a photo's result or translation up in (None in memory: this replica's view only).
        self.recall = recall
        self.label_board = LabelBoard(
            max_devices=settings.max_label_devices,
            max_early=settings.labels_early_translations,
            early_ttl_s=settings.labels_early_translation_ttl_s,
            shown_ttl_s=settings.labels_ttl_ms / 1000,
        )
        self.label_limits = LabelLimits(
            max_regions=settings.labels_max_regions,
            max_text_chars=settings.labels_max_text_chars,
            max_tags=settings.labels_max_tags,
            min_tag_score=settings.labels_min_tag_score,
            max_codes=settings.labels_max_codes,
        )
        self.label_style = LabelStyle(
            max_lines=settings.labels_max_lines,
            max_columns=settings.labels_max_columns,
            max_labels=settings.labels_max_labels,
            gap_px=settings.labels_gap_px,
            text_scale=settings.labels_text_scale,
        )
        # --- the assistant's cards ---
        self.card_metrics = card_metrics or CardMetrics.register(CollectorRegistry())
        self.card_limits = CardLimits(
            title_rows=settings.card_title_rows,
            body_rows=settings.card_body_rows,
            item_rows=settings.card_item_rows,
            max_actions=settings.card_max_actions,
            action_label_cells=settings.card_action_label_cells,
            max_text_chars=settings.card_max_text_chars,
        )
        # One deadline per device at most (the current photo's), cancelled when it is replaced or translated.
        self._late_timers: dict[str, asyncio.TimerHandle] = {}
        self._late_tasks: set[asyncio.Task[None]] = set()

    # --- lifecycle of the check loop ---
    def start(self) -> None:
        """Run the presence and translation-deadline checks until close()."""
        if self._task is None:
            self._task = asyncio.create_task(self._check_forever(), name="overlay-caption-checks")

    async def close(self) -> None:
        for timer in self._late_timers.values():
            timer.cancel()
        self._late_timers.clear()
        for task in list(self._late_tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _check_forever(self) -> None:
        while True:
            try:
                await self.check(time.monotonic())
            except Exception:
                # A failed round must not end the checks: the next one may succeed.
                if self.limited_log.limiter.allow("check")[0]:
                    log.exception("caption availability check failed")
            await asyncio.sleep(self.settings.caption_check_interval_s)

    async def check(self, now: float) -> None:
        """One round: tell devices whose captions became (un)available, and
        note finals whose translation is late or cannot come."""
        if self.availability is not None:
            changes = self.availability.changes(now)
            if changes:
                down = sum(1 for _, available in changes if not available)
                log.info(
                    "captions unavailable for some devices" if down else "captions available again",
                    extra={"unavailable": down, "available": len(changes) - down},
                )
            for device_id, _ in changes:
                await self._send_captions(device_id, await self._hud(device_id), now, causation_id="", changed=False)
        for device_id in list(self._waiting):
            board = self.boards.get(device_id)
            if board is None or not board.waiting:
                self._waiting.discard(device_id)
                continue
            if board.check_translations(now, self._translation_available):
                await self._send_captions(device_id, await self._hud(device_id), now, causation_id="", changed=True)
            if not board.waiting:
                self._waiting.discard(device_id)

    # --- events ---
    async def on_device_input(self, event: DeviceInput, ctx: EventContext) -> None:
        """Typed text goes to the panel; other inputs belong to other services.
        A spoken command marks the device as one that uses speech (typed text
        does not: a text-only wearer is never told about captions)."""
        if event.WhichOneof("input") == "voice_intent":
            await self._seen(ctx)
        if event.WhichOneof("input") != "text":
            return
        text = event.text.text
        if not text.strip():
            raise EventRejected(ErrorCode.ERROR_CODE_INVALID, "text input is empty", event_id=ctx.event_id, device_id=ctx.device_id)
        hud = _hud_of(ctx.device)
        update = panel_update(text[: self.settings.max_text_chars], event.text.language, hud, ttl_ms=self.settings.panel_ttl_ms)
        await self.send(ctx.device_id, update, causation_id=ctx.event_id)

    async def on_transcript(self, event: Transcript, ctx: EventContext) -> None:
        """Partial and final transcripts (asr.partial.* / asr.final.*)."""
        if self._stale(event.meta.created_at):
            return
        now = time.monotonic()
        await self._seen(ctx, now)
        board = self._board(ctx.device_id)
        changed = board.on_transcript(event)
        if event.is_final and self._wants_translation(event, ctx.device):
            changed = (
                board.expect_translation(
                    event.utterance_id,
                    deadline=now + self.settings.caption_translation_deadline_s,
                    subject=ctx.subject,
                    available=self._translation_available(ctx.subject),
                )
                or changed
            )
            if board.waiting:
                self._waiting.add(ctx.device_id)
        if changed:
            await self._send_captions(ctx.device_id, _hud_of(ctx.device), now, causation_id=ctx.event_id, changed=True)

    async def on_translation(self, event: Translation, ctx: EventContext) -> None:
        """Speech translations (translation.partial.* / translation.final.*),
        and finals that say they get none (status FAILED / UNSUPPORTED)."""
        if event.origin != TextOrigin.TEXT_ORIGIN_SPEECH or self._stale(event.meta.created_at):
            return
        now = time.monotonic()
        await self._seen(ctx, now)
        if self._board(ctx.device_id).on_translation(event):
            await self._send_captions(ctx.device_id, _hud_of(ctx.device), now, causation_id=ctx.event_id, changed=True)

    async def on_assistant_reply(self, event: AssistantReply, ctx: EventContext) -> None:
        """The assistant's reply (assistant.reply.*) as the device's card. Too
        old a reply is history and not shown, except a reminder or notification:
        those show late, with the time they were for."""
        now = time.time()
        kind = kind_name(event.kind)
        late = shown_late(event, reply_age_s(event, now), self.settings.card_max_age_s)
        if late is None:
            self.card_metrics.cards.labels(kind, "stale").inc()
            return
        device = ctx.device
        late_label = time_label(event, now, device.time_zone if device is not None else "") if late else ""
        try:
            layout = reply_card(
                event,
                _hud_of(device),
                ttl_ms=self.settings.card_ttl_for(kind, event.ttl_ms),
                now_s=now,
                limits=self.card_limits,
                late_label=late_label,
            )
        except InvalidReply as error:
            self.card_metrics.cards.labels(kind, "rejected").inc()
            raise EventRejected(ErrorCode.ERROR_CODE_INVALID, str(error), event_id=ctx.event_id, device_id=ctx.device_id) from None
        if layout.notes or layout.actions_dropped:
            log.info(
                "assistant reply shown with changes",
                extra={
                    "event_id": ctx.event_id,
                    "device_id": ctx.device_id,
                    "notes": list(layout.notes),
                    "actions_dropped": layout.actions_dropped,
                },
            )
        await self.send(ctx.device_id, layout.update, causation_id=ctx.event_id)
        self.card_metrics.cards.labels(kind, "late" if late else "shown").inc()
        if event.speech_ended_at.seconds > 0:
            latency = time.time() - event.speech_ended_at.ToNanoseconds() / 1e9
            if latency >= 0:  # a clock ahead of ours says nothing about latency
                self.card_metrics.speech_to_card.labels(kind).observe(latency)

    async def on_vision_result(self, event: VisionResult, ctx: EventContext) -> None:
        """What vision saw in a photo (vision.result.*): its labels, tags and
        codes at once, replacing the device's last photo's, unless a newer
        photo is shown already (photos are ordered by when they were taken)."""
        if not event.photo_id:
            raise EventRejected(
                ErrorCode.ERROR_CODE_INVALID, "a vision result without a photo id", event_id=ctx.event_id, device_id=ctx.device_id
            )
        try:
            await self._show_result(event, ctx.event_id, ctx.device_id, ctx.device, causation_id=ctx.event_id)
        except InvalidPhoto as err:
            raise EventRejected(ErrorCode.ERROR_CODE_INVALID, str(err), event_id=ctx.event_id, device_id=ctx.device_id) from None

    async def _show_result(
        self, event: VisionResult, result_id: str, device_id: str, device: DeviceRecord | None, *, causation_id: str
    ) -> None:
        now_ns = time.time_ns()
        taken = taken_ns(event, now_ns)
        # Stale only if both clocks say so: the glasses' (taken) may be off, and a photo
        # taken offline and analysed once the link is back is news to the wearer.
        analysed = event.meta.created_at.ToNanoseconds() if event.meta.created_at.seconds > 0 else now_ns
        if now_ns - max(taken, analysed) > self.settings.labels_max_age_s * 1e9:
            self._count_result("stale")
            return
        target = event.target_language or (device.default_target_language if device is not None else "")
        photo, skipped = photo_labels(event, result_id, target_language=target, hud=_hud_of(device), taken=taken, limits=self.label_limits)
        for reason, count in skipped.items():
            if count:
                self.label_metrics.regions_skipped.labels(reason).inc(count)
        shown = self.label_board.show(device_id, photo, time.monotonic())
        self._count_result(shown.outcome)
        self._count_dropped()
        for gone in shown.evicted:
            self._cancel_late(gone)
        if shown.outcome != "shown":
            return
        if shown.early is not None:
            self._count_translation("applied", shown.early.bad_index)
        self._cancel_late(device_id)
        if photo.waiting:
            self._late_timers[device_id] = asyncio.get_running_loop().call_later(
                self.settings.labels_translation_deadline_s, self._on_late, device_id, photo.result_id
            )
        await self._send_labels(device_id, photo, causation_id=causation_id, first=True)

    async def on_photo_translation(self, event: Translation, ctx: EventContext) -> None:
        """A photo's text regions translated (translation.photo.*): the labels
        of the device's current photo show the translations; failed or
        unsupported ones keep the text as read and say so."""
        if not event.photo_id:
            raise EventRejected(
                ErrorCode.ERROR_CODE_INVALID, "a photo translation without a photo id", event_id=ctx.event_id, device_id=ctx.device_id
            )
        outcome, applied = self.label_board.translate(ctx.device_id, event, time.monotonic())
        self._count_translation(outcome, applied.bad_index if applied is not None else 0)
        self._count_dropped()
        if outcome == "early" and self.recall is not None:
            # A photo this replica never saw (another replica took its result, or this one
            # restarted since): if it is the device's last, its result is in vision's stream.
            result = await self.recall.last_result(ctx.device_id)
            if result is not None and result.photo_id == event.photo_id and event.source_event_id in ("", result.meta.event_id):
                self._count_translation("recalled")
                with contextlib.suppress(InvalidPhoto):  # it was refused where it was consumed
                    await self._show_result(result, result.meta.event_id, ctx.device_id, ctx.device, causation_id=ctx.event_id)
            return
        photo = self.label_board.current.get(ctx.device_id)
        if applied is None or photo is None:
            return
        if not photo.waiting:
            self._cancel_late(ctx.device_id)
        if applied.changed:
            await self._send_labels(ctx.device_id, photo, causation_id=ctx.event_id, first=False)

    def _on_late(self, device_id: str, result_id: str) -> None:
        self._late_timers.pop(device_id, None)
        task = asyncio.create_task(self._say_late(device_id, result_id), name=f"overlay-labels-late-{device_id}")
        self._late_tasks.add(task)
        task.add_done_callback(self._late_tasks.discard)

    async def _say_late(self, device_id: str, result_id: str) -> None:
        photo = self.label_board.current.get(device_id)
        if photo is None or photo.result_id != result_id or not photo.waiting:
            return
        try:
            if self.recall is not None and await self._recall_translation(device_id, photo):
                return
            if self.label_board.current.get(device_id) is not photo or not photo.mark_late():
                return  # replaced or translated meanwhile
            self._count_translation("late")
            await self._send_labels(device_id, photo, causation_id="", first=False)
        except Exception:
            # A notice that could not be sent: the next photo or translation redraws the region.
            if self.limited_log.limiter.allow("labels-late")[0]:
                log.exception("could not send late labels", extra={"device_id": device_id})

    async def _recall_translation(self, device_id: str, photo: PhotoLabels) -> bool:
        """Before saying "late": another replica may have taken the photo's
        Translation. Returns whether it was found (and applied)."""
        assert self.recall is not None
        last = await self.recall.last_translation(device_id)
        if last is None or last.photo_id != photo.photo_id or last.source_event_id not in ("", photo.result_id):
            return False
        if self.label_board.current.get(device_id) is not photo:
            return True  # replaced meanwhile: nothing to say about this photo
        self._count_translation("recalled")
        applied = photo.apply(last)
        self._count_translation("applied", applied.bad_index)
        if applied.changed:
            await self._send_labels(device_id, photo, causation_id=last.meta.event_id, first=False)
        return True

    def _cancel_late(self, device_id: str) -> None:
        timer = self._late_timers.pop(device_id, None)
        if timer is not None:
            timer.cancel()

    async def _send_labels(self, device_id: str, photo: PhotoLabels, *, causation_id: str, first: bool) -> None:
        box = region_box(HudRegion.HUD_REGION_LABELS, photo.hud)
        labels, arranged = anchored_labels(photo, box.rect, self.label_style)
        if first:
            self.label_metrics.labels.labels("drawn").inc(len(arranged.placed))
            self.label_metrics.labels.labels("omitted").inc(labels.omitted)
        update = DisplayUpdate(region=HudRegion.HUD_REGION_LABELS, ttl_ms=self.settings.labels_ttl_ms)
        update.bounds.CopyFrom(box.rect)
        update.labels.CopyFrom(labels)
        await self.send(device_id, update, causation_id=causation_id)

    def _count_result(self, outcome: str) -> None:
        self.label_metrics.results.labels(outcome).inc()

    def _count_translation(self, outcome: str, bad_index: int = 0) -> None:
        self.label_metrics.translations.labels(outcome).inc()
        if bad_index:
            self.label_metrics.regions_skipped.labels("bad_index").inc(bad_index)

    def _count_dropped(self) -> None:
        dropped = self.label_board.take_dropped()
        if dropped:
            self.label_metrics.translations.labels("dropped").inc(dropped)

    # --- availability ---
    def _audio_subject(self, device_id: str) -> str:
        """The subject a speech-recognition instance must take for this device's audio."""
        count = self.settings.caption_audio_partitions
        unmapped = subjects.up_audio(device_id)
        return f"{unmapped}.{partitions.partition_of(device_id, count)}" if count else unmapped

    def _translation_available(self, subject: str) -> bool:
        if self.presence is None or not self.presence.settled:
            return True  # not known (yet): the deadline still applies
        return self.presence.serves(subject, service=self.settings.caption_translation_service)

    def _wants_translation(self, event: Transcript, device: DeviceRecord | None) -> bool:
        target = event.target_language or (device.default_target_language if device is not None else "")
        return wants_translation(event.language, target)

    async def _seen(self, ctx: EventContext, now: float | None = None) -> None:
        """A device is active: if its captions cannot come, it is told at once."""
        if self.availability is None:
            return
        now = time.monotonic() if now is None else now
        if self.availability.seen(ctx.device_id, now):
            await self._send_captions(ctx.device_id, _hud_of(ctx.device), now, causation_id=ctx.event_id, changed=False)

    async def _hud(self, device_id: str) -> HudProfile:
        record = await self.devices.lookup(device_id) if self.devices is not None else None
        return _hud_of(record)

    # --- display ---
    def _stale(self, created_at: Timestamp) -> bool:
        return created_at.seconds > 0 and time.time() - created_at.ToNanoseconds() / 1e9 > self.settings.caption_max_age_s

    def _board(self, device_id: str) -> CaptionBoard:
        board = self.boards.pop(device_id, None) or CaptionBoard()
        self.boards[device_id] = board  # most recently active last
        while len(self.boards) > self.settings.max_caption_devices:
            gone, _ = self.boards.popitem(last=False)
            self._changed_at.pop(gone, None)
            self._waiting.discard(gone)
        return board

    async def _send_captions(self, device_id: str, hud: HudProfile, now: float, *, causation_id: str, changed: bool) -> None:
        """The caption region as it stands: the board's entries (unless they
        have faded from the HUD already) and the notice when captions cannot
        come. `changed`: an event just changed the board."""
        box = region_box(HudRegion.HUD_REGION_CAPTION, hud)
        board = self.boards.get(device_id)
        if changed:
            self._changed_at[device_id] = now
        ttl_s = self.settings.caption_ttl_ms / 1000
        fresh = board is not None and (not ttl_s or now - self._changed_at.get(device_id, -ttl_s) < ttl_s)
        update = DisplayUpdate(region=HudRegion.HUD_REGION_CAPTION)
        update.bounds.CopyFrom(box.rect)
        if self.availability is not None and self.availability.unavailable(device_id):
            # No ttl: the notice holds as long as its cause does.
            shown = board if fresh else None
            update.caption.CopyFrom(caption_region(shown, box.columns, box.rows, notice=CAPTIONS_UNAVAILABLE, notice_id=CAPTIONS_NOTICE_ID))
        elif fresh:
            assert board is not None
            update.ttl_ms = self.settings.caption_ttl_ms
            update.caption.CopyFrom(caption_region(board, box.columns, box.rows))
        else:
            # Captions are back with nothing current to show: empty the region (faded captions stay gone).
            update.clear.CopyFrom(ClearRegion())
        await self.send(device_id, update, causation_id=causation_id)

    async def send(self, device_id: str, update: DisplayUpdate, *, causation_id: str) -> None:
        version = self.versions.next((device_id, update.region))
        update.region_version = version
        update.meta.CopyFrom(new_meta(device_id, SERVICE, seq=version, causation_id=causation_id))
        # Core NATS on purpose: a display update is only worth showing now;
        # a glasses that was away gets the next one, never a replay of stale ones.
        await self.publisher.publish(subjects.down_display(device_id), update)
        self.display_updates.labels(HudRegion.Name(update.region).removeprefix("HUD_REGION_").lower()).inc()


def _hud_of(record: DeviceRecord | None) -> HudProfile:
    return record.hud if record is not None and record.hud.width_px else DEFAULT_HUD

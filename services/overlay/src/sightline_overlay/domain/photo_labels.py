"""The labels of each device's current photo, as its translation comes (or not).

A VisionResult becomes a PhotoLabels at once: one label per usable text region
showing the text as read, "pending" while its translation is awaited (not when
the region is already in the wearer's language, or there is no wearer's
language), plus the photo's top tags and decoded codes. The photo's Translation
(translation.photo.<device>, one per result) then swaps each label's text for
its translation, or marks it "failed" / "unsupported" and keeps the text as
read; past a deadline the handler marks what is still pending "late".

LabelBoard keeps one current photo per device, every bit of state keyed by the
device the event came for (the guard checked it against the subject), so a
Translation can never touch another device's labels:

- the newest photo wins: a result whose photo was taken (captured_at, else
  the result's created_at) before the current one's is not shown while the
  current one's labels are still on the HUD;
- a Translation for the current photo applies; one for a photo the device
  showed before is ignored; one for a photo not seen yet is kept (bounded,
  briefly) and applied when its VisionResult comes, since they travel on
  different streams and either may come first.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from dataclasses import dataclass, field

from sightline.v1.common_pb2 import Box, Rect
from sightline.v1.device_pb2 import HudProfile
from sightline.v1.display_pb2 import AnchoredLabel, AnchoredLabels, TextBlock
from sightline.v1.translation_pb2 import Translation, TranslationStatus
from sightline.v1.vision_pb2 import VisionResult

from sightline_overlay.domain.captions import wants_translation
from sightline_overlay.domain.labels import Area, Canvas, LabelRequest, LabelStyle, Layout, clean_area, layout
from sightline_overlay.domain.textwrap import ELLIPSIS, sanitize

# A label's translation_status (AnchoredLabel.translation_status); "" = translated, or shown as read by design.
PENDING = "pending"
LATE = "late"
FAILED = "failed"
UNSUPPORTED = "unsupported"
TRANSLATED = ""

_MISSING = {
    TranslationStatus.TRANSLATION_STATUS_FAILED: FAILED,
    TranslationStatus.TRANSLATION_STATUS_UNSUPPORTED: UNSUPPORTED,
}


class InvalidPhoto(ValueError):
    """A VisionResult no label can be drawn for."""


@dataclass(frozen=True)
class LabelLimits:
    max_regions: int = 64
    max_text_chars: int = 200
    max_tags: int = 3
    min_tag_score: float = 0.05
    max_codes: int = 4
    max_code_chars: int = 48


@dataclass
class RegionLabel:
    index: int
    anchor: Area
    # As vision sent it (a translation names the text it translates).
    read: str
    # What the HUD shows when there is no translation: sanitised, capped.
    source: str
    language: str
    confidence: float
    status: str = TRANSLATED
    translation: str = ""
    translation_language: str = ""

    @property
    def text(self) -> str:
        return self.translation or self.source


@dataclass
class Applied:
    """What a Translation did to a photo's labels."""

    changed: bool = False
    # Regions it names that the result does not have (or has with other text).
    bad_index: int = 0


@dataclass
class PhotoLabels:
    photo_id: str
    result_id: str
    taken_ns: int
    image_width: int
    image_height: int
    target_language: str
    hud: HudProfile
    labels: dict[int, RegionLabel]
    region_count: int
    # Usable regions beyond LabelLimits.max_regions (counted as omitted).
    capped: int = 0
    tags: tuple[str, ...] = ()
    codes: tuple[str, ...] = ()
    max_text_chars: int = LabelLimits.max_text_chars
    # When LabelBoard.show made it current (monotonic seconds).
    shown_at: float = 0.0

    @property
    def waiting(self) -> bool:
        return any(label.status == PENDING for label in self.labels.values())

    def apply(self, translation: Translation) -> Applied:
        result = Applied()
        missing = _MISSING.get(translation.status, FAILED)
        named: set[int] = set()
        for region in translation.regions:
            if region.region_index >= self.region_count:
                result.bad_index += 1
                continue
            label = self.labels.get(region.region_index)
            if label is None:
                continue  # a region this overlay skipped (empty text, no box) or capped
            if region.source_text and region.source_text != label.read:
                result.bad_index += 1  # the index points at another text: not this result's numbering
                continue
            named.add(label.index)
            if region.text.strip():
                update = (TRANSLATED, _capped_text(region.text, self.max_text_chars), translation.target_language)
            else:
                update = (missing, "", "")
            if update != (label.status, label.translation, label.translation_language):
                label.status, label.translation, label.translation_language = update
                result.changed = True
        # A region the translation does not name gets none from it.
        for label in self.labels.values():
            if label.index not in named and label.status in (PENDING, LATE):
                label.status = missing
                result.changed = True
        return result

    def mark_late(self) -> bool:
        late = [label for label in self.labels.values() if label.status == PENDING]
        for label in late:
            label.status = LATE
        return bool(late)


def taken_ns(event: VisionResult, arrived_ns: int) -> int:
    """When the photo was taken: captured_at, else when vision announced it, else its arrival."""
    for stamp in (event.captured_at, event.meta.created_at):
        if stamp.seconds > 0:
            return stamp.ToNanoseconds()
    return arrived_ns


def _capped_text(text: str, limit: int) -> str:
    text = " ".join(sanitize(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + ELLIPSIS


def photo_labels(
    event: VisionResult, result_id: str, *, target_language: str, hud: HudProfile, taken: int, limits: LabelLimits
) -> tuple[PhotoLabels, dict[str, int]]:
    """The labels of a VisionResult, and how many regions were skipped, by reason."""
    skipped = {"empty_text": 0, "bad_box": 0}
    usable: list[RegionLabel] = []
    for index, region in enumerate(event.text_regions):
        source = _capped_text(region.text, limits.max_text_chars)
        if not source:
            skipped["empty_text"] += 1
            continue
        anchor = clean_area(region.box.x, region.box.y, region.box.width, region.box.height)
        if anchor is None:
            skipped["bad_box"] += 1
            continue
        confidence = region.confidence if math.isfinite(region.confidence) else 0.0
        status = PENDING if wants_translation(region.language, target_language) else TRANSLATED
        usable.append(RegionLabel(index, anchor, region.text, source, region.language, confidence, status))
    if usable and (event.image_width == 0 or event.image_height == 0):
        raise InvalidPhoto(f"photo {event.photo_id}: text regions without the photo's size ({event.image_width}x{event.image_height})")
    # Thousands of regions (a page of small print): the most important ones only.
    usable.sort(key=lambda label: (-LabelRequest(label.index, label.anchor, "", label.confidence).priority, label.index))
    kept = sorted(usable[: limits.max_regions], key=lambda label: label.index)
    photo = PhotoLabels(
        photo_id=event.photo_id,
        result_id=result_id,
        taken_ns=taken,
        image_width=event.image_width,
        image_height=event.image_height,
        target_language=target_language,
        hud=hud,
        labels={label.index: label for label in kept},
        region_count=len(event.text_regions),
        capped=len(usable) - len(kept),
        tags=_top_tags(event, limits),
        codes=_codes(event, limits),
        max_text_chars=limits.max_text_chars,
    )
    return photo, skipped


def _top_tags(event: VisionResult, limits: LabelLimits) -> tuple[str, ...]:
    ranked = sorted(
        (tag for tag in event.tags if math.isfinite(tag.score) and tag.score >= limits.min_tag_score),
        key=lambda tag: -tag.score,
    )
    tags: list[str] = []
    for tag in ranked:
        label = _capped_text(tag.label, 32)
        if label and label not in tags:
            tags.append(label)
        if len(tags) == limits.max_tags:
            break
    return tuple(tags)


def _codes(event: VisionResult, limits: LabelLimits) -> tuple[str, ...]:
    codes: list[str] = []
    for code in event.codes:
        shown = _capped_text(f"{code.format} {code.text}", limits.max_code_chars)
        if code.text.strip() and shown not in codes:
            codes.append(shown)
        if len(codes) == limits.max_codes:
            break
    return tuple(codes)


def anchored_labels(photo: PhotoLabels, region: Rect, style: LabelStyle) -> tuple[AnchoredLabels, Layout]:
    """The labels region's content for a photo (labels in region order)."""
    out = AnchoredLabels(photo_id=photo.photo_id, tags=photo.tags, codes=photo.codes)
    if not photo.labels:
        out.omitted = photo.capped
        return out, Layout((), ())
    canvas = Canvas.contain(photo.image_width, photo.image_height, region, photo.hud, text_scale=style.text_scale)
    requests = [LabelRequest(label.index, label.anchor, label.text, label.confidence) for label in photo.labels.values()]
    arranged = layout(requests, canvas, style)
    placed = arranged.by_key()
    for index, label in photo.labels.items():
        spot = placed.get(index)
        if spot is None:
            continue
        translated = bool(label.translation) and label.translation != label.source
        out.labels.append(
            AnchoredLabel(
                anchor=_box(label.anchor),
                text=TextBlock(
                    lines=spot.text.lines,
                    language=label.translation_language if label.translation else label.language,
                    truncated=spot.text.truncated,
                ),
                source_text=label.source if translated else "",
                placement=_box(spot.placement),
                translation_status=label.status,
            )
        )
    out.omitted = len(arranged.omitted) + photo.capped
    return out, arranged


def _box(area: Area) -> Box:
    return Box(x=area.x, y=area.y, width=area.w, height=area.h)


@dataclass
class Shown:
    """What LabelBoard.show did with a photo."""

    # "shown", "older" (a newer photo is current), "duplicate" (this result is current already)
    outcome: str
    # A Translation that came first and was applied now.
    early: Applied | None = None
    # Devices forgotten to stay within max_devices.
    evicted: list[str] = field(default_factory=list)


class LabelBoard:
    def __init__(
        self, *, max_devices: int = 10_000, max_early: int = 4, early_ttl_s: float = 30.0, shown_ttl_s: float = 0.0, remembered: int = 8
    ) -> None:
        self.max_devices = max_devices
        # How long labels stay on the HUD (0 = until replaced): an older photo never replaces
        # labels still shown, but once they are gone any photo may (a clock that jumped back).
        self.shown_ttl_s = shown_ttl_s
        self.max_early = max_early
        self.early_ttl_s = early_ttl_s
        self.current: OrderedDict[str, PhotoLabels] = OrderedDict()
        # Per device: Translations whose VisionResult has not come, by photo id, with their arrival.
        self._early: OrderedDict[str, OrderedDict[str, tuple[float, Translation]]] = OrderedDict()
        # Per device: photos shown before the current one (their Translations are ignored).
        self._past: dict[str, deque[str]] = {}
        self._remembered = remembered
        # Early translations dropped (bound, ttl) since the handler last asked.
        self.dropped = 0

    def show(self, device_id: str, photo: PhotoLabels, now: float) -> Shown:
        current = self.current.get(device_id)
        if current is not None and photo.result_id and current.result_id == photo.result_id:
            return Shown("duplicate")
        if current is not None and photo.taken_ns < current.taken_ns and self._on_screen(current, now):
            self._remember(device_id, photo.photo_id)
            return Shown("older")
        if current is not None and current.photo_id != photo.photo_id:
            self._remember(device_id, current.photo_id)
        self.current.pop(device_id, None)
        photo.shown_at = now
        self.current[device_id] = photo  # most recently shown last
        shown = Shown("shown")
        early = self._take_early(device_id, photo, now)
        if early is not None:
            shown.early = photo.apply(early)
        while len(self.current) > self.max_devices:
            gone, _ = self.current.popitem(last=False)
            self._past.pop(gone, None)
            self._early.pop(gone, None)
            shown.evicted.append(gone)
        return shown

    def translate(self, device_id: str, translation: Translation, now: float) -> tuple[str, Applied | None]:
        """Returns ("applied", what it did), ("not_current", None) or ("early", None)."""
        photo = self.current.get(device_id)
        if photo is not None and photo.photo_id == translation.photo_id:
            if translation.source_event_id and photo.result_id and translation.source_event_id != photo.result_id:
                return "not_current", None  # a translation of an earlier analysis of this photo
            return "applied", photo.apply(translation)
        if translation.photo_id in self._past.get(device_id, ()):
            return "not_current", None
        self._keep_early(device_id, translation, now)
        return "early", None

    def _on_screen(self, photo: PhotoLabels, now: float) -> bool:
        return not self.shown_ttl_s or now - photo.shown_at < self.shown_ttl_s

    def take_dropped(self) -> int:
        dropped, self.dropped = self.dropped, 0
        return dropped

    def forget(self, device_id: str) -> None:
        self.current.pop(device_id, None)
        self._early.pop(device_id, None)
        self._past.pop(device_id, None)

    def _remember(self, device_id: str, photo_id: str) -> None:
        past = self._past.setdefault(device_id, deque(maxlen=self._remembered))
        if photo_id not in past:
            past.append(photo_id)

    def _expire(self, waiting: OrderedDict[str, tuple[float, Translation]], now: float) -> None:
        for photo_id, (arrived, _) in list(waiting.items()):
            if now - arrived > self.early_ttl_s:
                del waiting[photo_id]
                self.dropped += 1

    def _keep_early(self, device_id: str, translation: Translation, now: float) -> None:
        waiting = self._early.pop(device_id, None) or OrderedDict()
        self._early[device_id] = waiting  # most recently active last
        self._expire(waiting, now)
        waiting.pop(translation.photo_id, None)
        waiting[translation.photo_id] = (now, translation)
        while len(waiting) > self.max_early:
            waiting.popitem(last=False)
            self.dropped += 1
        while len(self._early) > self.max_devices:
            _, gone = self._early.popitem(last=False)
            self.dropped += len(gone)

    def _take_early(self, device_id: str, photo: PhotoLabels, now: float) -> Translation | None:
        waiting = self._early.get(device_id)
        if not waiting:
            return None
        self._expire(waiting, now)
        kept = waiting.get(photo.photo_id)
        if kept is None:
            return None
        translation = kept[1]
        if translation.source_event_id and photo.result_id and translation.source_event_id != photo.result_id:
            return None  # for another analysis of the photo: may still match a later result
        del waiting[photo.photo_id]
        if not waiting:
            del self._early[device_id]
        return translation

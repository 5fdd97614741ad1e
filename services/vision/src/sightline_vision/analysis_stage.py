"""The second stage: from a stored photo to what vision saw in it.

Each PhotoStored (vision's own, after the intake verified and treated the
photo) is read back from the object store, analysed off the event loop
(OCR, tags, codes: sightline_vision.analysis), indexed in the photo
library and announced as a VisionResult on vision.result.<device>. The
result's id derives from the stored photo's, so a redelivery after a crash
re-indexes (an upsert) and re-publishes an event JetStream already has:
each photo is analysed into one result. A photo deleted before its turn
(privacy mode, the wearer, retention) is skipped and counted.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Awaitable, Callable

from nats.js.errors import NotFoundError, ObjectNotFoundError
from nats.js.object_store import ObjectStore
from sightline.v1.common_pb2 import Box
from sightline.v1.device_pb2 import AuditAction
from sightline.v1.errors_pb2 import ErrorCode
from sightline.v1.vision_pb2 import DecodedCode, ImageTag, PhotoStored, TextRegion, VisionResult
from sightline_runtime import subjects
from sightline_runtime.audit import AuditLog
from sightline_runtime.codec import EventRejected
from sightline_runtime.consumer import EventContext
from sightline_runtime.events import new_meta
from sightline_runtime.publisher import EventPublisher
from sightline_runtime.streams import PHOTOS, photo_object_name

from sightline_vision.analysis import Analysis
from sightline_vision.bus import SERVICE, VISION
from sightline_vision.domain.image import ImageRefused
from sightline_vision.library import PhotoEntry, PhotoLibrary
from sightline_vision.metrics import VisionMetrics
from sightline_vision.settings import VisionSettings

log = logging.getLogger(__name__)
_RESULT_NAMESPACE = uuid.UUID("2c6f0f4e-1d7b-4a8e-b7d5-93f0a1e4c6b2")

Analyze = Callable[[bytes], Awaitable[Analysis]]


def _box(box: tuple[float, float, float, float]) -> Box:
    x, y, w, h = box
    return Box(x=x, y=y, width=w, height=h)


class AnalysisStage:
    def __init__(
        self,
        publisher: EventPublisher,
        settings: VisionSettings,
        store: ObjectStore,
        analyze: Analyze,
        library: PhotoLibrary,
        metrics: VisionMetrics,
    ) -> None:
        self.publisher = publisher
        self.settings = settings
        self.store = store
        self.analyze = analyze
        self.library = library
        self.metrics = metrics
        self.audit = AuditLog(publisher, SERVICE)

    async def on_photo_stored(self, stored: PhotoStored, ctx: EventContext) -> None:
        started = time.perf_counter()
        name = photo_object_name(ctx.device_id, stored.photo_id)
        if stored.bucket != PHOTOS.name or stored.object_name != name:
            raise EventRejected(
                ErrorCode.ERROR_CODE_INVALID,
                f"stored photo {stored.object_name[:80]!r} in {stored.bucket[:40]!r} is not {PHOTOS.name}/{name}",
                event_id=ctx.event_id,
                device_id=ctx.device_id,
            )
        try:
            data = (await self.store.get(name)).data or b""
        except (ObjectNotFoundError, NotFoundError):
            self.metrics.photos.labels("deleted").inc()
            log.info("stored photo gone before its analysis; skipped", extra={"device_id": ctx.device_id, "photo_id": stored.photo_id})
            return
        if len(data) > self.settings.photo_max_bytes:
            raise EventRejected(
                ErrorCode.ERROR_CODE_OVERSIZED,
                f"stored photo of {len(data)} bytes is over {self.settings.photo_max_bytes}",
                event_id=ctx.event_id,
                device_id=ctx.device_id,
            )
        try:
            analysis = await self.analyze(data)
        except ImageRefused as refused:
            self.metrics.photos.labels("refused").inc()
            raise EventRejected(
                refused.code, f"photo {stored.photo_id!r}: {refused.reason}", event_id=ctx.event_id, device_id=ctx.device_id
            ) from None
        result = self._result(stored, ctx, analysis, started)
        await self.library.index(self._entry(stored, ctx, result))
        await self.publisher.publish(subjects.domain("vision", "result", ctx.device_id), result, stream=VISION)
        self._count(analysis, started)
        await self.audit.record(
            ctx.device_id,
            AuditAction.AUDIT_ACTION_PHOTO_PROCESSED,
            reference_id=stored.photo_id,
            detail=f"read {len(result.text_regions)} text region(s), {len(result.tags)} tag(s), {len(result.codes)} code(s)",
            causation_id=stored.meta.event_id,
            dedup_key=f"vision:analysed:{stored.meta.event_id}",
        )

    def _result(self, stored: PhotoStored, ctx: EventContext, analysis: Analysis, started: float) -> VisionResult:
        result = VisionResult(
            meta=new_meta(
                ctx.device_id,
                SERVICE,
                seq=stored.meta.seq,
                causation_id=stored.meta.event_id,
                event_id=uuid.uuid5(_RESULT_NAMESPACE, stored.meta.event_id).hex,
            ),
            photo_id=stored.photo_id,
            image_width=analysis.width,
            image_height=analysis.height,
            text_regions=[
                TextRegion(text=t.text, box=_box(t.box), confidence=t.confidence, language=t.language, masked=masked)
                for t, masked in zip(analysis.text_regions, analysis.masked, strict=True)
            ],
            tags=[ImageTag(label=t.label, score=t.score, vocabulary=analysis.tag_vocabulary) for t in analysis.tags],
            codes=[DecodedCode(format=c.format, text=c.text, box=_box(c.box)) for c in analysis.codes],
            ocr_engine=analysis.ocr_engine,
            tagger_engine=analysis.tagger_engine,
            target_language=stored.target_language,
            treatment=stored.treatment,
            faces=stored.faces,
            analysis_ms=(time.perf_counter() - started) * 1000,
        )
        if stored.HasField("captured_at"):
            result.captured_at.CopyFrom(stored.captured_at)
        else:
            result.captured_at.CopyFrom(stored.meta.created_at)
        return result

    @staticmethod
    def _entry(stored: PhotoStored, ctx: EventContext, result: VisionResult) -> PhotoEntry:
        return PhotoEntry(
            photo_id=stored.photo_id,
            device_id=ctx.device_id,
            captured_at=result.captured_at.ToDatetime(tzinfo=dt.UTC),
            width=result.image_width,
            height=result.image_height,
            object_name=stored.object_name,
            tags=[(t.label, t.score) for t in result.tags],
            text_regions=list(result.text_regions),
            codes=[(c.format, c.text) for c in result.codes],
            treatment=stored.treatment,
        )

    def _count(self, analysis: Analysis, started: float) -> None:
        self.metrics.photos.labels("analysed").inc()
        self.metrics.analysis_seconds.observe(time.perf_counter() - started)
        for stage, ms in analysis.timings_ms.items():
            self.metrics.engine_seconds.labels(stage).observe(ms / 1000)
        self.metrics.text_regions.inc(len(analysis.text_regions))
        self.metrics.masked_regions.inc(sum(analysis.masked))
        self.metrics.codes.inc(len(analysis.codes))

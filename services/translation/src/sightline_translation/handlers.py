"""Translation handlers: transcripts in, Translation events out, and the
Translate RPC.

For each transcript: the target language is the transcript's
target_language, else the device's default_target_language; when there is
none, or it equals the source, nothing is published. An unsupported pair
is reported as an ErrorEvent (at most once a minute per device and pair,
so a long talk does not flood the error stream) and counted; the
transcript itself is fine, so it is not dead-lettered. An empty transcript
is counted and skipped. Text over the length limit is refused (dead
letter + ErrorEvent, by the runtime's guard).

A final that gets no translation says so on its normal subject, so the
caption can say so too: a Translation with status UNSUPPORTED (no engine for
the pair, every time) or FAILED (refused, or every engine failed on the last
delivery attempt, just before the runtime dead-letters it), empty text.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from google.protobuf.message import DecodeError
from sightline.v1.asr_pb2 import Transcript
from sightline.v1.device_pb2 import DeviceRecord
from sightline.v1.errors_pb2 import ErrorCode, ErrorEvent
from sightline.v1.translation_pb2 import TextOrigin, TranslateRequest, TranslateResponse, Translation, TranslationStatus
from sightline.v1.vision_pb2 import VisionResult
from sightline_runtime import subjects
from sightline_runtime.codec import EventRejected
from sightline_runtime.consumer import EventContext
from sightline_runtime.devices import is_active
from sightline_runtime.events import HybridClock, new_meta
from sightline_runtime.logs import RateLimitedLog
from sightline_runtime.publisher import EventPublisher
from sightline_runtime.streams import ERRORS
from sightline_runtime.subjects import DEVICE_ID_PATTERN

from sightline_translation.bus import SERVICE, TRANSLATION
from sightline_translation.engines import Lane
from sightline_translation.languages import InvalidLanguage, Pair, primary
from sightline_translation.metrics import TranslationMetrics
from sightline_translation.partials import PartialCoalescer
from sightline_translation.photos import PhotoTranslator
from sightline_translation.router import TranslationFailed, UnsupportedPair
from sightline_translation.rpc import error_headers
from sightline_translation.settings import TranslationSettings
from sightline_translation.translator import Outcome, Translator

log = logging.getLogger(__name__)
_EVENT_IDS = uuid.UUID("5d0c6a52-2f5e-4b8e-9a51-7a6f0c1e2b33")

DeviceLookup = Callable[[str], Awaitable[DeviceRecord | None]]


@dataclass(frozen=True)
class Plan:
    """A transcript that will be translated, and into what."""

    event: Transcript
    ctx: EventContext
    pair: Pair


class TranslationHandlers:
    def __init__(
        self,
        publisher: EventPublisher,
        settings: TranslationSettings,
        translator: Translator,
        metrics: TranslationMetrics,
        *,
        lookup_device: DeviceLookup,
    ) -> None:
        self.publisher = publisher
        self.settings = settings
        self.translator = translator
        self.metrics = metrics
        self.lookup_device = lookup_device
        self.clock = HybridClock()
        self.partials = PartialCoalescer(
            self._translate_partial,
            min_interval_s=settings.translation_partial_min_interval_ms / 1000,
            max_concurrency=settings.translation_partial_concurrency,
            max_utterances=settings.translation_max_utterances,
            on_skip=lambda reason: metrics.partials_skipped.labels(reason).inc(),
        )
        self._reported: dict[tuple[str, Pair], float] = {}
        self.limited_log = RateLimitedLog(log)
        self.photos = PhotoTranslator(settings, translator, metrics, self.clock)

    # --- transcripts ---
    def _plan(self, event: Transcript, ctx: EventContext, kind: str) -> Plan | None:
        """What to translate, None when there is nothing to do; EventRejected for bad input."""
        limit = self.settings.translation_max_text_chars
        if len(event.text) > limit:
            raise EventRejected(
                ErrorCode.ERROR_CODE_INVALID,
                f"transcript text of {len(event.text)} characters is over the {limit}-character limit",
                event_id=ctx.event_id,
                device_id=ctx.device_id,
            )
        if not event.text.strip():
            self.metrics.translations.labels("none", kind, "empty").inc()
            return None
        try:
            source = primary(event.language)
        except InvalidLanguage as err:
            raise EventRejected(
                ErrorCode.ERROR_CODE_INVALID, f"transcript language: {err}", event_id=ctx.event_id, device_id=ctx.device_id
            ) from None
        wanted = event.target_language or (ctx.device.default_target_language if ctx.device is not None else "")
        if not wanted.strip():
            self.metrics.translations.labels("none", kind, "no_target").inc()
            return None
        try:
            target = primary(wanted)
        except InvalidLanguage as err:
            raise EventRejected(
                ErrorCode.ERROR_CODE_INVALID, f"target language: {err}", event_id=ctx.event_id, device_id=ctx.device_id
            ) from None
        if target == source:
            self.metrics.translations.labels("none", kind, "same_language").inc()
            return None
        return Plan(event, ctx, Pair(source, target))

    async def on_partial(self, event: Transcript, ctx: EventContext) -> None:
        """asr.partial.<device> (core NATS): queue it; the newest one wins."""
        plan = self._plan(event, ctx, "partial")
        if plan is None:
            return
        if not self.translator.supports(plan.pair):
            self.metrics.translations.labels("none", "partial", "unsupported").inc()
            return  # the final reports it
        self.partials.submit((ctx.device_id, event.utterance_id), event.revision, plan)

    async def _translate_partial(self, key: tuple[str, str], plan: Plan) -> None:
        try:
            outcome = await self.translator.translate(plan.ctx.device_id, [plan.event.text], plan.pair, lane=Lane.PARTIAL, kind="partial")
        except TranslationFailed as err:
            # No retry for a partial: the next one or the final replaces it.
            self.limited_log.log(logging.WARNING, ("partial", str(plan.pair)), f"partial not translated: {err}", pair=str(plan.pair))
            return
        if not self.partials.is_current(key):
            self.metrics.partials_skipped.labels("finalized").inc()
            return
        await self.publisher.publish(
            subjects.domain("translation", "partial", plan.ctx.device_id), self._translation(plan, outcome, event_id=None)
        )

    async def on_final(self, event: Transcript, ctx: EventContext) -> None:
        """asr.final.<device> (JetStream): always translated, retried on failure."""
        self.partials.finalize((ctx.device_id, event.utterance_id))
        try:
            plan = self._plan(event, ctx, "final")
        except EventRejected as rejected:
            await self._no_translation(event, ctx, None, TranslationStatus.TRANSLATION_STATUS_FAILED, str(rejected))
            raise
        if plan is None:
            return
        try:
            outcome = await self.translator.translate(ctx.device_id, [event.text], plan.pair, lane=Lane.FINAL, kind="final")
        except UnsupportedPair as err:
            self.metrics.translations.labels("none", "final", "unsupported").inc()
            await self._no_translation(event, ctx, plan.pair, TranslationStatus.TRANSLATION_STATUS_UNSUPPORTED, str(err))
            await self._report_unsupported(plan, err)
            return
        except Exception as err:
            # TranslationFailed (or a bug) propagates: the runtime retries with
            # backoff and dead-letters (with an ErrorEvent) after the last
            # attempt; that last one first tells the caption it will get nothing.
            if ctx.delivery_attempt >= self.settings.max_deliver:
                await self._no_translation(
                    event, ctx, plan.pair, TranslationStatus.TRANSLATION_STATUS_FAILED, f"{type(err).__name__}: {err}"
                )
            raise
        # The event id follows from the transcript's, so a redelivered final
        # is dropped by JetStream's duplicate window instead of shown twice.
        event_id = uuid.uuid5(_EVENT_IDS, f"{ctx.event_id}/{plan.pair.target}").hex
        await self.publisher.publish(
            subjects.domain("translation", "final", ctx.device_id), self._translation(plan, outcome, event_id=event_id), stream=TRANSLATION
        )

    async def on_vision_result(self, event: VisionResult, ctx: EventContext) -> None:
        """vision.result.<device> (JetStream): the photo's text, translated for its labels."""
        translation = await self.photos.translate(event, ctx, last_attempt=ctx.delivery_attempt >= self.settings.max_deliver)
        if translation is not None:
            await self.publisher.publish(subjects.domain("translation", "photo", ctx.device_id), translation, stream=TRANSLATION)

    def _translation(self, plan: Plan, outcome: Outcome, *, event_id: str | None) -> Translation:
        event, ctx = plan.event, plan.ctx
        return Translation(
            meta=new_meta(ctx.device_id, SERVICE, seq=self.clock.next(ctx.device_id), causation_id=ctx.event_id, event_id=event_id),
            source_event_id=ctx.event_id,
            utterance_id=event.utterance_id,
            revision=event.revision,
            is_final=event.is_final,
            origin=TextOrigin.TEXT_ORIGIN_SPEECH,
            source_language=plan.pair.source,
            target_language=plan.pair.target,
            source_text=event.text,
            text=outcome.texts[0],
            engine=outcome.engine,
            fallback_used=outcome.fallback_used,
            glossary_terms=outcome.glossary_terms,
            status=TranslationStatus.TRANSLATION_STATUS_OK,
        )

    async def _no_translation(self, event: Transcript, ctx: EventContext, pair: Pair | None, status: int, detail: str) -> None:
        """Publish that this final gets no translation (status FAILED or
        UNSUPPORTED). Never raises: the refusal or failure being handled is what matters."""
        wanted = event.target_language or (ctx.device.default_target_language if ctx.device is not None else "")
        if pair is None and not wanted.strip():
            return  # refused before anyone asked for a translation: the caption expects none
        source, target = (pair.source, pair.target) if pair is not None else (event.language[:35], wanted[:35])
        name = TranslationStatus.Name(status).removeprefix("TRANSLATION_STATUS_").lower()
        # From the transcript's id and the outcome: a redelivered final is not announced twice.
        event_id = uuid.uuid5(_EVENT_IDS, f"{ctx.event_id}/{target}/{name}").hex
        translation = Translation(
            meta=new_meta(ctx.device_id, SERVICE, seq=self.clock.next(ctx.device_id), causation_id=ctx.event_id, event_id=event_id),
            source_event_id=ctx.event_id,
            utterance_id=event.utterance_id,
            revision=event.revision,
            is_final=True,
            origin=TextOrigin.TEXT_ORIGIN_SPEECH,
            source_language=source,
            target_language=target,
            source_text=event.text[: self.settings.translation_max_text_chars],
            status=status,
            status_detail=detail[:500],
        )
        try:
            await self.publisher.publish(subjects.domain("translation", "final", ctx.device_id), translation, stream=TRANSLATION)
        except Exception:  # noqa: BLE001 - logged; the caller's refusal or retry goes on regardless
            self.limited_log.log(
                logging.ERROR, ("no_translation", name), f"could not publish a {name} translation status", device_id=ctx.device_id
            )

    async def _report_unsupported(self, plan: Plan, err: UnsupportedPair) -> None:
        ctx = plan.ctx
        key = (ctx.device_id, plan.pair)
        now = time.monotonic()
        last = self._reported.get(key)
        self.limited_log.log(logging.WARNING, ("unsupported", key), str(err), device_id=ctx.device_id, pair=str(plan.pair))
        if last is not None and now - last < self.settings.translation_unsupported_report_interval_s:
            return
        if len(self._reported) > 100_000:
            self._reported.clear()
        self._reported[key] = now
        error = ErrorEvent(
            meta=new_meta(ctx.device_id, SERVICE, causation_id=ctx.event_id),
            service=SERVICE,
            handler="asr_final",
            subject=ctx.subject,
            code=ErrorCode.ERROR_CODE_UNSUPPORTED_LANGUAGE,
            message=str(err),
            failed_event_id=ctx.event_id,
            payload_size=plan.event.ByteSize(),
            delivery_attempt=ctx.delivery_attempt,
        )
        await self.publisher.publish(subjects.errors(SERVICE, ctx.device_id), error, stream=ERRORS)

    async def close(self) -> None:
        await self.partials.close()

    # --- TranslationService.Translate ---
    async def translate_request(self, body: bytes) -> tuple[TranslateResponse, dict[str, str]]:
        """One RPC: (response, headers); refusals carry error headers."""
        try:
            request, pair = await self._check_request(body)
        except _Refused as refused:
            self.metrics.translations.labels("none", "rpc", "refused").inc()
            self.limited_log.log(logging.WARNING, ("rpc", refused.code), f"translate request refused: {refused.message}", code=refused.code)
            return TranslateResponse(), error_headers(refused.code, refused.message)
        if pair.source == pair.target:
            return TranslateResponse(texts=request.texts, engine="none"), {}
        try:
            outcome = await self.translator.translate(request.device_id, list(request.texts), pair, lane=Lane.FINAL, kind="rpc")
        except UnsupportedPair as err:
            self.metrics.translations.labels("none", "rpc", "unsupported").inc()
            return TranslateResponse(), error_headers(400, str(err))
        except TranslationFailed as err:
            log.error("translate request failed", extra={"pair": str(pair), "error": str(err)})
            return TranslateResponse(), error_headers(503, str(err))
        return TranslateResponse(texts=outcome.texts, engine=outcome.engine, fallback_used=outcome.fallback_used), {}

    async def _check_request(self, body: bytes) -> tuple[TranslateRequest, Pair]:
        if len(body) > self.settings.max_event_bytes:
            raise _Refused(400, f"request of {len(body)} bytes is over the {self.settings.max_event_bytes}-byte limit")
        request = TranslateRequest()
        try:
            request.ParseFromString(body)
        except DecodeError:
            raise _Refused(400, "not a TranslateRequest") from None
        if not DEVICE_ID_PATTERN.fullmatch(request.device_id):
            raise _Refused(400, "device_id is not a valid device id")
        if not is_active(await self.lookup_device(request.device_id)):
            raise _Refused(403, f"device {request.device_id!r} is not provisioned or revoked")
        try:
            pair = Pair(primary(request.source_language), primary(request.target_language))
        except InvalidLanguage as err:
            raise _Refused(400, str(err)) from None
        if not request.texts:
            raise _Refused(400, "no texts to translate")
        if len(request.texts) > self.settings.translation_max_rpc_texts:
            raise _Refused(400, f"{len(request.texts)} texts; at most {self.settings.translation_max_rpc_texts} per request")
        longest = max(len(t) for t in request.texts)
        if longest > self.settings.translation_max_text_chars:
            raise _Refused(400, f"a text of {longest} characters is over the {self.settings.translation_max_text_chars}-character limit")
        return request, pair


class _Refused(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

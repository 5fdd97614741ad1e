"""asr handlers: audio frames in, partial and final transcripts out.

The frame handler does only cheap work on the event loop (checks, rate
limit, VAD on 32 ms windows, buffering); inference runs in the engine's
worker, one stream at a time per turn of the fair scheduler.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Coroutine
from typing import Any

from sightline.v1.asr_pb2 import Transcript
from sightline.v1.audio_pb2 import AudioFrame
from sightline.v1.device_pb2 import AuditAction
from sightline.v1.errors_pb2 import ErrorCode, ErrorEvent
from sightline_runtime import subjects
from sightline_runtime.audit import AuditLog
from sightline_runtime.consumer import EventContext
from sightline_runtime.events import HybridClock, new_meta
from sightline_runtime.publisher import EventPublisher
from sightline_runtime.streams import ERRORS

from sightline_asr.bus import ASR, SERVICE
from sightline_asr.engines import Hypothesis
from sightline_asr.engines.runner import EngineRunner
from sightline_asr.frames import frame_samples
from sightline_asr.metrics import AsrMetrics
from sightline_asr.ratelimit import DeviceBuckets, ReportWindow
from sightline_asr.scheduler import FairScheduler
from sightline_asr.segmenter import RATE, SegmenterConfig
from sightline_asr.settings import AsrSettings
from sightline_asr.stream import DeviceStream, StreamInfo, UtteranceRun
from sightline_asr.vad import SileroVad

log = logging.getLogger(__name__)


def segmenter_config(settings: AsrSettings) -> SegmenterConfig:
    return SegmenterConfig(
        threshold=settings.asr_vad_threshold,
        release=settings.asr_vad_release,
        hangover_ms=settings.asr_hangover_ms,
        early_hangover_ms=settings.asr_early_hangover_ms,
        late_hangover_ms=settings.asr_late_hangover_ms,
        end_confidence=settings.asr_end_confidence,
        candidate_ms=settings.asr_candidate_ms,
        preroll_ms=settings.asr_preroll_ms,
        min_speech_ms=settings.asr_min_speech_ms,
        partial_interval_ms=settings.asr_partial_interval_ms,
        first_partial_ms=settings.asr_first_partial_ms,
        soft_max_s=settings.asr_soft_max_utterance_s,
        soft_hangover_ms=settings.asr_soft_hangover_ms,
        max_s=settings.asr_max_utterance_s,
    )


def _language_matches(spoken: str, engine_language: str) -> bool:
    """'en', 'en-US' and '' (unknown) are English for an English engine."""
    return not spoken or spoken.split("-", 1)[0].lower() == engine_language


class AsrHandlers:
    def __init__(self, publisher: EventPublisher, settings: AsrSettings, runner: EngineRunner, metrics: AsrMetrics) -> None:
        self.publisher = publisher
        self.settings = settings
        self.runner = runner
        self.metrics = metrics
        self.config = segmenter_config(settings)
        self.vad: SileroVad | None = None
        # As many inferences at once as the runner has workers (app.py builds
        # the runner; its pool is sized here, before start() loads it).
        runner.workers = settings.asr_workers
        self.scheduler = FairScheduler(workers=settings.asr_workers)
        self.streams: OrderedDict[str, DeviceStream] = OrderedDict()
        # Transcript seq: monotonic per device, also across restarts.
        self.clock = HybridClock()
        self.buckets = DeviceBuckets(settings.asr_rate_limit_factor, settings.asr_rate_limit_burst_s)
        self.reports = ReportWindow(settings.asr_rate_limit_report_s)
        self._tasks: set[asyncio.Task[None]] = set()
        self.audit = AuditLog(publisher, SERVICE)
        self._sweeper: asyncio.Task[None] | None = None

    # --- lifecycle (app.py wires these to the service's start-up and shutdown) ---
    async def start(self) -> None:
        self.vad = SileroVad()
        await self.runner.load()
        self.scheduler.start()
        self._sweeper = asyncio.create_task(self._sweep(), name="asr-idle-streams")
        log.info("models loaded", extra={"engine": self.runner.name})

    @property
    def ready(self) -> bool:
        return self.vad is not None and self.runner.loaded

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        await self.scheduler.stop()
        for task in list(self._tasks):
            task.cancel()
        self.runner.close()

    # --- frames ---
    async def on_audio_frame(self, frame: AudioFrame, ctx: EventContext) -> None:
        """AudioFrame on glasses.<device>.up.audio(.<partition>)."""
        samples = frame_samples(frame, sample_rate_hz=self.settings.asr_sample_rate_hz, max_frame_ms=self.settings.asr_max_frame_ms)
        device = ctx.device_id
        now = time.monotonic()
        if not self.buckets.allow(device, samples.size / RATE, now):
            self._drop("rate_limited", device, now, ErrorCode.ERROR_CODE_RATE_LIMITED, "audio arrives faster than real time allows", ctx)
            return
        if not _language_matches(frame.source_language, self.runner.language):
            self._drop(
                "unsupported_language",
                device,
                now,
                ErrorCode.ERROR_CODE_UNSUPPORTED_LANGUAGE,
                f"speech in {frame.source_language!r} cannot be transcribed by {self.runner.name}",
                ctx,
            )
            return
        stream = self._stream_for(frame, ctx)
        if frame.meta.seq and frame.meta.seq <= stream.info.last_seq:
            self.metrics.frames_dropped.labels("out_of_order").inc()
            return
        stream.info.last_seq = frame.meta.seq
        if samples.size:
            stream.feed(samples, ctx.event_id)
        if frame.end_of_stream:
            self._close(device, "end_of_stream")

    def on_privacy_change(self, device: str, enabled: bool) -> None:
        """Privacy mode on: forget the device's audio at once, without
        finalizing the utterance in progress (its audio was captured, but the
        wearer asked for it not to be processed from now on)."""
        if not enabled:
            return
        stream = self.streams.pop(device, None)
        if stream is None:
            return
        stream.discarded = True  # an inference in flight publishes nothing
        self.scheduler.forget(stream.key)
        self.metrics.active_streams.set(len(self.streams))
        log.info("privacy mode: discarded the audio stream in progress", extra={"device_id": device})

    def _stream_for(self, frame: AudioFrame, ctx: EventContext) -> DeviceStream:
        device = ctx.device_id
        stream = self.streams.get(device)
        if stream is not None and stream.info.stream_id == frame.stream_id:
            self.streams.move_to_end(device)
            return stream
        if stream is not None:
            # A new microphone session replaces the old one, whose utterance in
            # progress is finalized as if its end_of_stream had arrived.
            self._close(device, "new_stream")
        assert self.vad is not None, "start() first"
        created = frame.meta.created_at.ToNanoseconds() / 1e9 if frame.meta.created_at.seconds else time.time()
        info = StreamInfo(
            device_id=device,
            stream_id=frame.stream_id,
            source_language=frame.source_language,
            target_language=frame.target_language,
            started_at=created - len(frame.data) / 2 / RATE,
        )
        stream = DeviceStream(
            info,
            config=self.config,
            vad=self.vad,
            runner=self.runner,
            metrics=self.metrics,
            emit_partial=self._emit_partial,
            emit_final=self._emit_final,
            emit_failure=self._emit_failure,
            notify=self._notify,
            spawn=self._spawn,
            tail_pad_ms=self.settings.asr_tail_pad_ms,
        )
        self.streams[device] = stream
        while len(self.streams) > self.settings.asr_max_streams:
            oldest = next(iter(self.streams))
            self._close(oldest, "evicted")
        self.metrics.active_streams.set(len(self.streams))
        return stream

    def _close(self, device: str, reason: str) -> None:
        stream = self.streams.pop(device, None)
        if stream is not None:
            stream.finish(reason)
            if not stream.has_work:
                self.scheduler.forget(stream.key)
        self.metrics.active_streams.set(len(self.streams))

    async def _sweep(self) -> None:
        """Close streams whose glasses went quiet without an end_of_stream
        (crashed, lost the link): their utterance is finalized, state freed."""
        while True:
            await asyncio.sleep(min(0.5, self.settings.asr_stream_idle_s / 2))
            cutoff = time.monotonic() - self.settings.asr_stream_idle_s
            for device, stream in list(self.streams.items()):
                if stream.info.last_frame_at < cutoff:
                    self._close(device, "idle")

    def _notify(self, stream: DeviceStream) -> None:
        self.scheduler.notify(stream.key, stream)
        self.metrics.queue_depth.set(self.scheduler.queued)

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background publish failed", exc_info=task.exception())

    # --- refusals that are not the guard's (the frame itself was fine) ---
    def _drop(self, reason: str, device: str, now: float, code: int, message: str, ctx: EventContext) -> None:
        """Count the dropped frame; report it once per device and window, so a
        flood costs a counter increment per frame and not a JetStream write."""
        self.metrics.frames_dropped.labels(reason).inc()
        if self.reports.should_report((reason, device), now):
            log.warning("dropping audio frames", extra={"device_id": device, "reason": reason, "detail": message})
            self._spawn(self._report(device, code, message, ctx))

    async def _report(self, device: str, code: int, message: str, ctx: EventContext) -> None:
        error = ErrorEvent(
            meta=new_meta(device, SERVICE, causation_id=ctx.event_id),
            service=SERVICE,
            handler="audio_frame",
            subject=ctx.subject,
            code=code,
            message=message,
            failed_event_id=ctx.event_id,
        )
        await self.publisher.publish(subjects.errors(SERVICE, device), error, stream=ERRORS)

    # --- transcripts ---
    def _transcript(self, stream: DeviceStream, run: UtteranceRun, hyp: Hypothesis, *, final: bool) -> Transcript:
        info = stream.info
        transcript = Transcript(
            meta=new_meta(
                info.device_id,
                SERVICE,
                seq=self.clock.next(info.device_id),
                causation_id=run.causation_id if final else info.last_event_id,
            ),
            utterance_id=run.utterance_id,
            revision=run.revision + (1 if final else 0),
            is_final=final,
            text=hyp.text,
            language=self.runner.language,
            target_language=info.target_language,
            confidence=hyp.confidence,
            engine=self.runner.name,
            stream_id=info.stream_id,
        )
        transcript.speech_started_at.FromNanoseconds(int(stream.timestamp(run.utterance.speech_start) * 1e9))
        if final:
            transcript.speech_ended_at.FromNanoseconds(int(stream.timestamp(run.utterance.speech_end) * 1e9))
        return transcript

    async def _emit_partial(self, stream: DeviceStream, run: UtteranceRun, hyp: Hypothesis) -> None:
        if stream.discarded:
            return
        # Core NATS: a partial is only worth something now; never stored.
        await self.publisher.publish(
            subjects.domain(SERVICE, "partial", stream.info.device_id), self._transcript(stream, run, hyp, final=False)
        )
        self.metrics.transcripts.labels("partial").inc()

    async def _emit_final(self, stream: DeviceStream, run: UtteranceRun, hyp: Hypothesis) -> None:
        """The one final of an utterance (into JetStream ASR). The microphone
        audit record is written here: one per utterance the engine processed."""
        if stream.discarded:
            return  # privacy mode came on while it was being transcribed
        await self.audit.record(
            stream.info.device_id,
            AuditAction.AUDIT_ACTION_MICROPHONE_PROCESSED,
            reference_id=run.utterance_id,
            detail=f"utterance of stream {stream.info.stream_id} transcribed by {self.runner.name}"
            + ("" if hyp.text else " (no speech recognised)"),
            causation_id=run.causation_id,
            dedup_key=f"asr:{run.utterance_id}",
        )
        if not hyp.text and run.revision == 0:
            return  # nothing was heard and nothing shown: no transcript at all
        transcript = self._transcript(stream, run, hyp, final=True)
        subject = subjects.domain(SERVICE, "final", stream.info.device_id)
        for attempt in (1, 2, 3):
            try:
                await self.publisher.publish(subject, transcript, stream=ASR)
                break
            except Exception:
                if attempt == 3:
                    raise
                log.warning("publishing a final failed; retrying", exc_info=True, extra={"device_id": stream.info.device_id})
                await asyncio.sleep(0.2 * attempt)
        self.metrics.transcripts.labels("final").inc()
        self.metrics.final_delay.labels(self.runner.name).observe(max(0.0, time.time() - stream.timestamp(run.utterance.speech_end)))

    async def _emit_failure(self, stream: DeviceStream, run: UtteranceRun, err: Exception) -> None:
        error = ErrorEvent(
            meta=new_meta(stream.info.device_id, SERVICE, causation_id=run.causation_id),
            service=SERVICE,
            handler="audio_frame",
            subject=subjects.up_audio(stream.info.device_id),
            code=ErrorCode.ERROR_CODE_ENGINE_FAILURE,
            message=f"{self.runner.name} failed on utterance {run.utterance_id}: {type(err).__name__}: {err}"[:1000],
            failed_event_id=run.causation_id,
        )
        await self.publisher.publish(subjects.errors(SERVICE, stream.info.device_id), error, stream=ERRORS)

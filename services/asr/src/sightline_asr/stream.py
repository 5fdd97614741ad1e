"""One device's audio stream: VAD + segmenter events turned into inference
jobs, and their results into partial and final transcripts.

Job order within a stream (the scheduler gives each stream one turn at a
time): finals first (never skipped), then the newest final candidate, then a
partial of the utterance in progress. Partials are latest-wins: a request
made while one is queued or running only marks that one more is wanted, and
it is computed on the newest audio when the stream's turn comes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sightline_runtime.events import new_event_id

from sightline_asr.engines import Hypothesis
from sightline_asr.engines.runner import EngineRunner
from sightline_asr.metrics import AsrMetrics
from sightline_asr.scheduler import Job, Priority
from sightline_asr.segmenter import (
    RATE,
    VERDICT_LABELS,
    CandidateDue,
    Dropped,
    Ended,
    PartialDue,
    Segmenter,
    SegmenterConfig,
    Started,
    Utterance,
    end_verdict,
)
from sightline_asr.vad import WINDOW, SileroVad

log = logging.getLogger(__name__)

PAUSE_SKIPS_PARTIAL = 2 * WINDOW  # samples of silence (64 ms)


@dataclass
class UtteranceRun:
    """What the service knows about one utterance while it is transcribed."""

    utterance: Utterance
    utterance_id: str
    causation_id: str
    revision: int = 0  # partials published
    hint: Hypothesis | None = None
    partial_wanted: bool = False
    candidate_wanted: int | None = None  # audio end of the requested candidate
    candidate_running: int | None = None
    candidate: tuple[int, Hypothesis] | None = None
    final_upto: int | None = None
    final_queued: bool = False
    final_done: bool = False
    end_reason: str = ""
    ended_at: float = 0.0  # monotonic, when the end was detected


Emit = Callable[["DeviceStream", UtteranceRun, Hypothesis], Awaitable[None]]
EmitFailure = Callable[["DeviceStream", UtteranceRun, Exception], Awaitable[None]]


@dataclass
class StreamInfo:
    device_id: str
    stream_id: str
    source_language: str
    target_language: str
    # Wall-clock time of sample 0, so audio positions become timestamps.
    started_at: float
    last_seq: int = 0
    last_event_id: str = ""
    last_frame_at: float = field(default_factory=time.monotonic)


class DeviceStream:
    def __init__(
        self,
        info: StreamInfo,
        *,
        config: SegmenterConfig,
        vad: SileroVad,
        runner: EngineRunner,
        metrics: AsrMetrics,
        emit_partial: Emit,
        emit_final: Emit,
        emit_failure: EmitFailure,
        notify: Callable[[DeviceStream], None],
        spawn: Callable[[Coroutine[Any, Any, None]], None],
        tail_pad_ms: int = 160,
    ) -> None:
        self.info = info
        self.runner = runner
        # Set when privacy mode came on mid-stream: its results are never published.
        self.discarded = False
        self.metrics = metrics
        self.vad = vad.stream()
        self.segmenter = Segmenter(config, self.vad.probability)
        self.emit_partial = emit_partial
        self.emit_final = emit_final
        self.emit_failure = emit_failure
        self.notify = notify
        self.spawn = spawn
        # Silence appended to what the engine hears: Moonshine drops or garbles a
        # last word that ends right at the edge of its input (measured: WER 0.14
        # with 96 ms of trailing audio, 0.11 with 256 ms), and zeros cost no wait.
        self.tail_pad = np.zeros(tail_pad_ms * RATE // 1000, dtype=np.int16)
        # Publishing is serialised and re-checked under this lock, so a partial
        # can never follow its utterance's final onto the bus.
        self._emit_lock = asyncio.Lock()
        self.current: UtteranceRun | None = None
        self.finals: deque[UtteranceRun] = deque()
        self.partial_running = False
        self.closed = False

    @property
    def key(self) -> tuple[str, str]:
        return (self.info.device_id, self.info.stream_id)

    def timestamp(self, position: int) -> float:
        return self.info.started_at + position / RATE

    # --- input ---
    def feed(self, samples: np.ndarray, event_id: str) -> None:
        self.info.last_event_id = event_id
        self.info.last_frame_at = time.monotonic()
        self._handle(self.segmenter.push(samples))

    def finish(self, reason: str = "end_of_stream") -> None:
        """No more audio: the utterance in progress is finalized."""
        self._handle(self.segmenter.finish(reason))
        self.closed = True

    def _handle(self, events: list) -> None:
        wake = False
        for event in events:
            if isinstance(event, Started):
                self.current = UtteranceRun(event.utterance, new_event_id(), self.info.last_event_id)
            elif isinstance(event, PartialDue) and self.current is not None:
                self.current.partial_wanted = True
                wake = True
            elif isinstance(event, CandidateDue) and self.current is not None:
                self.current.candidate_wanted = event.upto
                wake = True
            elif isinstance(event, Ended) and self.current is not None:
                self._ended(self.current, event)
                wake = True
            elif isinstance(event, Dropped):
                self.metrics.utterances.labels("dropped").inc()
                self.current = None
        if wake:
            self.notify(self)

    def _ended(self, run: UtteranceRun, event: Ended) -> None:
        self.current = None
        run.final_upto = event.upto
        run.end_reason = event.reason
        run.ended_at = time.monotonic()
        run.causation_id = self.info.last_event_id or run.causation_id
        if run.partial_wanted:
            self.metrics.partials_skipped.inc()
        run.partial_wanted = False
        self.metrics.utterances.labels(event.reason).inc()
        if run.candidate is not None and run.candidate[0] == event.upto:
            # The speculative final covered exactly this audio: it is the final,
            # published now rather than after waiting for an inference turn.
            self.spawn(self._publish_final(run, run.candidate[1]))
        elif run.candidate_running != event.upto:
            run.final_queued = True
            self.finals.append(run)
        # else: the candidate still running will publish the final when done.

    # --- jobs (called by the scheduler) ---
    def next_job(self, *, beside: bool = False) -> Job | None:
        """Finals first, then the newest candidate, then a partial. `beside`:
        another job of this stream is running (a partial, the scheduler allows
        only then), so only a final or a candidate may start."""
        if self.finals:
            run = self.finals.popleft()
            return lambda: self._final(run)
        run = self.current
        if run is None:
            return None
        if run.candidate_wanted is not None:
            upto, run.candidate_wanted = run.candidate_wanted, None
            run.candidate_running = upto
            return lambda: self._candidate(run, upto)
        if run.partial_wanted and not beside and not self.partial_running:
            run.partial_wanted = False
            return lambda: self._partial(run)
        return None

    @property
    def priority(self) -> Priority | None:
        """FINAL: a final or a final candidate is due (the end of speech waits
        on it); FIRST: a partial of an utterance that shows nothing yet;
        PARTIAL: a newer partial; None: nothing to do."""
        run = self.current
        if self.finals or (run is not None and run.candidate_wanted is not None):
            return Priority.FINAL
        if run is not None and run.partial_wanted:
            return Priority.FIRST if run.revision == 0 else Priority.PARTIAL
        return None

    @property
    def has_work(self) -> bool:
        return self.priority is not None

    async def _infer(self, run: UtteranceRun, audio: np.ndarray, job: str) -> Hypothesis | None:
        try:
            hyp, seconds = await self.runner.transcribe(np.concatenate([audio, self.tail_pad]), run.hint)
        except Exception as err:
            self.metrics.engine_failures.labels(self.runner.name).inc()
            log.exception("inference failed", extra={"device_id": self.info.device_id, "job": job, "engine": self.runner.name})
            if job == "final":
                await self.emit_failure(self, run, err)
            return None
        self.metrics.inference.labels(self.runner.name, job).observe(seconds)
        if audio.size:
            self.metrics.real_time_factor.labels(self.runner.name).observe(seconds / (audio.size / RATE))
        return hyp

    async def _publish_final(self, run: UtteranceRun, hyp: Hypothesis) -> None:
        async with self._emit_lock:
            if run.final_done:
                return
            run.final_done = True
            await self.emit_final(self, run, hyp)

    async def _final(self, run: UtteranceRun) -> None:
        if run.final_done:
            return
        assert run.final_upto is not None
        if run.candidate is not None and run.candidate[0] == run.final_upto:
            hyp: Hypothesis | None = run.candidate[1]
        else:
            hyp = await self._infer(run, run.utterance.audio(run.final_upto), "final")
        if hyp is None:
            run.final_done = True  # the failure was reported; never retried
            return
        await self._publish_final(run, hyp)

    async def _candidate(self, run: UtteranceRun, upto: int) -> None:
        hyp = await self._infer(run, run.utterance.audio(upto), "candidate")
        run.candidate_running = None
        if hyp is None:
            if run.final_upto == upto and not run.final_queued:
                run.final_queued = True
                self.finals.append(run)
            return
        previous, run.candidate, run.hint = run.hint, (upto, hyp), hyp
        if run.final_upto == upto:
            await self._publish_final(run, hyp)
        elif run.final_upto is None and not self.closed:
            # The pause goes on: let what was said decide how long it must last
            # (a complete sentence ends it now, unfinished text waits longer).
            verdict = end_verdict(
                hyp.text,
                previous.text if previous is not None else None,
                hyp.end_probability,
                confident=self.segmenter.config.end_confidence,
            )
            self.metrics.end_verdicts.labels(VERDICT_LABELS[verdict]).inc()
            self._handle(self.segmenter.judge(upto, complete=verdict))

    async def _partial(self, run: UtteranceRun) -> None:
        if run.final_upto is not None:
            return
        if self.segmenter.silence >= PAUSE_SKIPS_PARTIAL:
            # The speaker just paused: a final candidate is moments away, and a
            # partial started now would make it wait for one more inference.
            self.metrics.partials_skipped.inc()
            return
        self.partial_running = True
        try:
            hyp = await self._infer(run, run.utterance.audio(), "partial")
        finally:
            self.partial_running = False
        if hyp is None:
            return
        async with self._emit_lock:
            if run.final_upto is not None:
                self.metrics.partials_skipped.inc()
                return
            run.hint = hyp
            if hyp.text:
                run.revision += 1
                await self.emit_partial(self, run, hyp)

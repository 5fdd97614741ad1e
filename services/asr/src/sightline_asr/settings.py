from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from sightline_runtime.partitions import AUDIO_PARTITIONS
from sightline_runtime.settings import ServiceSettings


class AsrSettings(ServiceSettings):
    """Every field is read from SIGHTLINE_<FIELD> (e.g. SIGHTLINE_ASR_ENGINE)."""

    # --- engine ---
    asr_engine: Literal["moonshine", "pocketsphinx"] = "moonshine"
    # Inferences run at once (threads sharing one Moonshine session, or
    # PocketSphinx processes), and ONNX Runtime threads per inference. Two
    # workers of one thread use both cores of a 2-core node (docs/asr.md,
    # measured against one worker of two threads).
    asr_workers: int = Field(default=2, ge=1, le=16)
    asr_engine_threads: int = Field(default=1, ge=1, le=16)

    # --- scaling: this replica's index among asr_replicas (see runtime partitions) ---
    # Empty index = the trailing number of SIGHTLINE_INSTANCE (a StatefulSet pod
    # name such as asr-2), or 0 when there is one replica.
    asr_replica: int | None = Field(default=None, ge=0)
    asr_replicas: int = Field(default=1, ge=1, le=AUDIO_PARTITIONS)

    # --- accepted audio (the glasses convert to this) ---
    asr_sample_rate_hz: int = 16_000
    # Longest frame accepted; the contract says 20-40 ms.
    asr_max_frame_ms: int = Field(default=100, gt=0)

    # --- voice activity ---
    # Silero speech probability that opens / keeps an utterance.
    asr_vad_threshold: float = Field(default=0.5, gt=0, lt=1)
    asr_vad_release: float = Field(default=0.35, gt=0, lt=1)
    # Silence that ends an utterance. Short on purpose: the end of speech ->
    # caption budget is 700 ms and this delay is spent before any inference.
    asr_hangover_ms: int = Field(default=320, ge=64)
    # Adaptive end of utterance (segmenter.end_verdict): after a complete
    # sentence (full stop or question mark, and the decode before read the
    # same words or the engine gives the end at least `end_confidence`) the
    # pause ends the utterance sooner; after unfinished text ("...milk,",
    # "... and the") it must last longer. The final is then the candidate,
    # ready ~100 ms into the pause, so a complete sentence's caption comes
    # about 130 ms sooner (docs/asr.md).
    asr_early_hangover_ms: int = Field(default=192, ge=32)
    asr_late_hangover_ms: int = Field(default=480, ge=64, le=2000)
    asr_end_confidence: float = Field(default=0.7, ge=0, le=1)
    # Silence after which a speculative final starts, so the final is ready
    # when the hangover confirms the end (wasted if speech resumes).
    asr_candidate_ms: int = Field(default=96, ge=32)
    # Zeros appended after the audio of each inference (see stream.py).
    asr_tail_pad_ms: int = Field(default=160, ge=0, le=1000)
    # Audio kept before the detected onset (the VAD reacts a window late).
    asr_preroll_ms: int = Field(default=256, ge=0)
    # Utterances with less voiced audio than this are dropped (clicks, coughs).
    asr_min_speech_ms: int = Field(default=200, ge=0)
    # Past the soft limit an utterance ends at the first short pause; at the hard
    # limit it is cut at the least speech-like moment of its last seconds.
    asr_soft_max_utterance_s: float = Field(default=15.0, gt=1)
    asr_max_utterance_s: float = Field(default=20.0, gt=2)
    asr_soft_hangover_ms: int = Field(default=96, ge=32)

    # --- partials ---
    # A partial is due after this much new audio (at least one per ~0.5 s).
    asr_partial_interval_ms: int = Field(default=400, ge=100)
    # The first partial waits for this much speech (shorter is mostly noise).
    asr_first_partial_ms: int = Field(default=320, ge=64)

    # --- limits ---
    # Token bucket per device, in seconds of audio: faster than this many times
    # real time is dropped; `burst` seconds may arrive at once (a reconnect).
    asr_rate_limit_factor: float = Field(default=2.0, ge=1.0)
    asr_rate_limit_burst_s: float = Field(default=2.0, gt=0)
    # At most one RATE_LIMITED ErrorEvent per device per window.
    asr_rate_limit_report_s: float = Field(default=10.0, gt=0)
    # A stream without frames this long is closed (its utterance finalized).
    asr_stream_idle_s: float = Field(default=3.0, gt=0)
    # Streams held at once by this replica; the least recently active is closed.
    asr_max_streams: int = Field(default=500, gt=0)

    @model_validator(mode="after")
    def _hangovers_in_order(self) -> AsrSettings:
        if not self.asr_candidate_ms <= self.asr_early_hangover_ms <= self.asr_hangover_ms <= self.asr_late_hangover_ms:
            raise ValueError(
                "need SIGHTLINE_ASR_CANDIDATE_MS <= _EARLY_HANGOVER_MS <= _HANGOVER_MS <= _LATE_HANGOVER_MS, got "
                f"{self.asr_candidate_ms} / {self.asr_early_hangover_ms} / {self.asr_hangover_ms} / {self.asr_late_hangover_ms}"
            )
        return self

"""Speech recognition engines behind one small interface.

An engine turns the audio of one utterance (16 kHz mono int16) into text.
It is loaded once, then called from a worker (thread or process, see
runner.py), one call at a time. `hint` is the engine's own previous
hypothesis for the same utterance, which an engine may use to go faster
(Moonshine verifies it in one decoder pass); it never changes the result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

SAMPLE_RATE_HZ = 16_000


@dataclass(frozen=True)
class Hypothesis:
    text: str
    # Engine-specific, opaque to callers (Moonshine: token ids).
    hint: tuple[int, ...] = ()
    confidence: float = 0.0
    # How sure the engine is that the utterance ends where the text does, as
    # written (Moonshine: the probability of its last token, say the full
    # stop, times that of the end right after it); None when it cannot say.
    end_probability: float | None = None


class AsrEngine(Protocol):
    # Engine name as written into Transcript.engine, e.g. "moonshine-base-en".
    name: str
    language: str
    # False when inference holds the GIL: then it runs in a worker process.
    releases_gil: bool

    def load(self) -> None: ...

    def transcribe(self, audio: np.ndarray, hint: Hypothesis | None = None) -> Hypothesis: ...


class EngineError(RuntimeError):
    """The engine could not load or failed on an input."""


def make_engine(kind: str, *, threads: int = 1) -> AsrEngine:
    """The engine a setting names (not yet loaded)."""
    if kind == "moonshine":
        from sightline_asr.engines.moonshine import MoonshineEngine  # noqa: PLC0415 - each engine imports its own runtime

        return MoonshineEngine(threads=threads)
    if kind == "pocketsphinx":
        from sightline_asr.engines.pocketsphinx import PocketsphinxEngine  # noqa: PLC0415

        return PocketsphinxEngine()
    raise EngineError(f"unknown ASR engine {kind!r}: use moonshine or pocketsphinx")

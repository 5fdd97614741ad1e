"""Cuts one audio stream into utterances from per-window speech probabilities.

Pure state machine (no I/O, no clock): feed it 16 kHz int16 samples and a
function giving the speech probability of a 32 ms window; it returns what
happened. Positions are sample indices since the stream started.

  idle --p >= threshold--> speech --silence >= hangover--> idle (utterance ended)
  speech: every `partial_interval` of audio -> a partial is due
          after `candidate` of silence -> a final candidate is due (an early,
            speculative final over exactly the audio a final would cover, so
            the final is ready when the hangover confirms the end)
          past `soft_max` the hangover shortens; at `hard_max` the utterance is
            cut at its least speech-like window of the last 3 s

Adaptive end of utterance: the hangover of a pause depends on what was said
before it. The caller judges the candidate's text (`judge()`, with
`end_verdict()`): a complete sentence that two decodes read alike, or that
the engine is sure ends there, ends the utterance after the short
`early_hangover`; text that is plainly unfinished ("... and the") waits the
long `late_hangover`; no verdict (yet) means the plain `hangover`. A verdict
holds for the pause it was made in only: speech resets it.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from sightline_asr.vad import WINDOW

RATE = 16_000


def ms_to_samples(ms: float) -> int:
    return round(ms * RATE / 1000)


# --- what the words say about the pause after them (English engines) ---
_SENTENCE_END = re.compile(r"[.?!][\"')\]]*$")
_CONTINUES = re.compile(r"[,;:\-–—]$")
# Words an English sentence practically never ends with (articles,
# conjunctions, possessives; not prepositions: "where are you from?"): after
# them the speaker is mid-sentence, whatever the punctuation says.
UNFINISHED_LAST_WORDS = frozenset(
    ["a", "an", "the", "and", "or", "but", "nor", "my", "your", "our", "their", "its", "because", "than", "if", "whether", "i'm", "that's"]
)
VERDICT_LABELS = {True: "complete", False: "unfinished", None: "unknown"}


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def end_verdict(text: str, previous: str | None, end_probability: float | None = None, *, confident: float = 0.7) -> bool | None:
    """How a pause after `text` (a final candidate's) should be judged.

    True (complete): it ends with a full stop, question or exclamation mark,
    not after a word that cannot end a sentence, and either the decode before
    it (`previous`: the last partial or candidate of the utterance) read the
    same words, or the engine puts the end there with at least `confident`
    probability. False (unfinished): it ends with a comma, dash or such a
    word. None: the words cannot tell (no punctuation, as from PocketSphinx)."""
    text = text.strip()
    words = _words(text)
    if not words:
        return None
    if _CONTINUES.search(text) or words[-1] in UNFINISHED_LAST_WORDS:
        return False
    if not _SENTENCE_END.search(text):
        return None
    stable = previous is not None and _words(previous) == words
    sure = end_probability is not None and end_probability >= confident
    return True if stable or sure else None


@dataclass(frozen=True)
class SegmenterConfig:
    threshold: float = 0.5
    release: float = 0.35
    hangover_ms: int = 320
    # The hangover after a complete sentence / after unfinished text (see
    # end_verdict; `end_confidence` is its `confident`).
    early_hangover_ms: int = 192
    late_hangover_ms: int = 480
    end_confidence: float = 0.7
    candidate_ms: int = 96
    preroll_ms: int = 256
    min_speech_ms: int = 200
    partial_interval_ms: int = 400
    first_partial_ms: int = 320
    soft_max_s: float = 15.0
    soft_hangover_ms: int = 96
    max_s: float = 20.0
    # Where a hard cut may fall: the last this-many seconds of the utterance.
    cut_search_s: float = 3.0


@dataclass
class Utterance:
    index: int  # per stream, from 1
    start: int  # sample position of its first sample (pre-roll included)
    windows: list[np.ndarray] = field(default_factory=list)
    probs: list[float] = field(default_factory=list)
    voiced: int = 0  # samples in windows judged speech
    speech_start: int = 0  # first speech window
    speech_end: int = 0  # end of the last speech window
    last_partial_at: int = 0
    ended: bool = False

    @property
    def end(self) -> int:
        return self.start + len(self.windows) * WINDOW

    def audio(self, upto: int | None = None) -> np.ndarray:
        """Samples from the start up to position `upto` (default: all)."""
        data = np.concatenate(self.windows) if self.windows else np.zeros(0, dtype=np.int16)
        return data if upto is None else data[: max(0, upto - self.start)]


@dataclass(frozen=True)
class Started:
    utterance: Utterance


@dataclass(frozen=True)
class PartialDue:
    utterance: Utterance


@dataclass(frozen=True)
class CandidateDue:
    utterance: Utterance
    upto: int  # the final would cover audio up to here, unless speech resumes


@dataclass(frozen=True)
class Ended:
    utterance: Utterance
    upto: int  # audio the final covers
    reason: str  # "sentence" (a pause after a complete sentence), "pause", "max_length", "end_of_stream"


@dataclass(frozen=True)
class Dropped:
    utterance: Utterance  # too little voiced audio to be speech


Event = Started | PartialDue | CandidateDue | Ended | Dropped


class Segmenter:
    def __init__(self, config: SegmenterConfig, probability: Callable[[np.ndarray], float]) -> None:
        self.config = config
        self.probability = probability
        self.position = 0  # samples consumed into windows
        self.pending = np.zeros(0, dtype=np.int16)
        self.preroll: deque[np.ndarray] = deque(maxlen=max(0, ms_to_samples(config.preroll_ms) // WINDOW))
        self.current: Utterance | None = None
        self.silence = 0  # samples of non-speech since the last speech window
        self.count = 0
        self._hangover = ms_to_samples(config.hangover_ms)
        self._early_hangover = ms_to_samples(config.early_hangover_ms)
        self._late_hangover = ms_to_samples(config.late_hangover_ms)
        self._pause_hangover = self._hangover  # this pause's, once judged
        self._soft_hangover = ms_to_samples(config.soft_hangover_ms)
        self._candidate = ms_to_samples(config.candidate_ms)
        self._interval = ms_to_samples(config.partial_interval_ms)
        self._first_partial = ms_to_samples(config.first_partial_ms)

    def push(self, samples: np.ndarray) -> list[Event]:
        events: list[Event] = []
        data = np.concatenate([self.pending, samples]) if self.pending.size else samples
        full = data.size - data.size % WINDOW
        for offset in range(0, full, WINDOW):
            self._window(data[offset : offset + WINDOW], events)
        self.pending = data[full:].copy()
        return events

    def judge(self, upto: int, *, complete: bool | None) -> list[Event]:
        """The text of the utterance in progress up to `upto` (a candidate's
        audio) is a complete sentence (True), plainly unfinished (False) or
        neither (None). Applies only while the pause that candidate was made
        in lasts; ends the utterance at once when that pause is already longer
        than the hangover the verdict sets."""
        utt = self.current
        if utt is None or self.silence == 0 or utt.speech_end + self._candidate != upto:
            return []  # speech resumed (or the utterance ended): the verdict is stale
        self._pause_hangover = {True: self._early_hangover, False: self._late_hangover, None: self._hangover}[complete]
        events: list[Event] = []
        if self.silence >= self._hangover_now(utt):
            self._close(utt, upto, self._pause_reason(), events)
        return events

    def _pause_reason(self) -> str:
        return "sentence" if self._pause_hangover == self._early_hangover < self._hangover else "pause"

    def _hangover_now(self, utt: Utterance) -> int:
        if self.position - utt.start >= self.config.soft_max_s * RATE:
            return min(self._soft_hangover, self._pause_hangover)
        return self._pause_hangover

    def finish(self, reason: str = "end_of_stream") -> list[Event]:
        """The stream ended: close the utterance in progress."""
        events: list[Event] = []
        if self.current is not None:
            self._close(self.current, self.current.speech_end + self._candidate, reason, events)
        self.pending = np.zeros(0, dtype=np.int16)
        return events

    def _window(self, window: np.ndarray, events: list[Event]) -> None:
        cfg = self.config
        prob = self.probability(window)
        start = self.position
        self.position += WINDOW
        utt = self.current
        if utt is None:
            if prob < cfg.threshold:
                self.preroll.append(window)
                return
            self.count += 1
            utt = Utterance(index=self.count, start=start - len(self.preroll) * WINDOW, speech_start=start)
            utt.windows = [*self.preroll]
            utt.probs = [0.0] * len(self.preroll)
            utt.last_partial_at = utt.start
            self.preroll.clear()
            self.current = utt
            self.silence = 0
            events.append(Started(utt))
        utt.windows.append(window)
        utt.probs.append(prob)
        if prob >= cfg.release:
            utt.voiced += WINDOW
            utt.speech_end = self.position
            self.silence = 0
            self._pause_hangover = self._hangover
        else:
            self.silence += WINDOW
        length = self.position - utt.start
        if length >= cfg.max_s * RATE:
            self._cut(utt, events)
            return
        if self.silence >= self._hangover_now(utt):
            self._close(utt, utt.speech_end + self._candidate, self._pause_reason(), events)
            return
        if self.silence >= self._candidate and self.silence - WINDOW < self._candidate:
            events.append(CandidateDue(utt, utt.speech_end + self._candidate))
        due = self._first_partial if utt.last_partial_at == utt.start else self._interval
        if self.silence == 0 and self.position - utt.speech_start >= self._first_partial and self.position - utt.last_partial_at >= due:
            utt.last_partial_at = self.position
            events.append(PartialDue(utt))

    def _close(self, utt: Utterance, upto: int, reason: str, events: list[Event]) -> None:
        utt.ended = True
        self.current = None
        self.silence = 0
        self._pause_hangover = self._hangover
        # Too little speech to be words (a click, a cough) is dropped, unless a
        # partial was already asked for: then it gets its final too.
        if utt.voiced < ms_to_samples(self.config.min_speech_ms) and utt.last_partial_at == utt.start:
            events.append(Dropped(utt))
        else:
            events.append(Ended(utt, min(upto, utt.end), reason))

    def _cut(self, utt: Utterance, events: list[Event]) -> None:
        """Hard limit: end at the least speech-like window of the last seconds
        and carry what follows into a new utterance."""
        search = max(1, int(self.config.cut_search_s * RATE) // WINDOW)
        tail = utt.probs[-search:]
        cut_index = len(utt.probs) - search + int(np.argmin(tail)) + 1  # windows kept in `utt`
        carried_windows, carried_probs = utt.windows[cut_index:], utt.probs[cut_index:]
        carried_voiced = sum(WINDOW for p in carried_probs if p >= self.config.release)
        utt.windows, utt.probs = utt.windows[:cut_index], utt.probs[:cut_index]
        utt.voiced -= carried_voiced
        utt.speech_end = min(utt.speech_end, utt.end)
        self._close(utt, utt.end, "max_length", events)
        self.count += 1
        rest = Utterance(index=self.count, start=utt.end, speech_start=utt.end, windows=carried_windows, probs=carried_probs)
        rest.voiced = carried_voiced
        rest.speech_end = self.position
        rest.last_partial_at = rest.start
        self.current = rest
        self.silence = 0
        events.append(Started(rest))

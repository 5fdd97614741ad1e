"""The utterance segmenter on synthetic audio: loud windows are speech
(probability 0.9), quiet ones are not (0.05), so every boundary is exact."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from sightline_asr.segmenter import RATE, CandidateDue, Dropped, Ended, PartialDue, Segmenter, SegmenterConfig, Started
from sightline_asr.vad import WINDOW


def loudness_probability(window: np.ndarray) -> float:
    return 0.9 if np.abs(window).mean() > 1000 else 0.05


def speech(seconds: float) -> np.ndarray:
    return np.full(int(seconds * RATE), 5000, dtype=np.int16)


def quiet(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), dtype=np.int16)


def run(*parts: np.ndarray, config: SegmenterConfig | None = None, chunk: int = 320, finish: bool = False) -> list:
    segmenter = Segmenter(config or SegmenterConfig(), loudness_probability)
    audio = np.concatenate(parts)
    events = []
    for start in range(0, audio.size, chunk):  # 20 ms frames, as the glasses send them
        events += segmenter.push(audio[start : start + chunk])
    if finish:
        events += segmenter.finish()
    return events


def of(events: list, kind: type) -> list:
    return [e for e in events if isinstance(e, kind)]


def test_one_sentence_is_one_utterance_with_preroll_and_a_padded_end():
    events = run(quiet(1.0), speech(2.0), quiet(1.0))
    [started] = of(events, Started)
    [ended] = of(events, Ended)
    utt = ended.utterance
    assert started.utterance is utt
    assert ended.reason == "pause"
    onset = 1.0 * RATE
    assert onset - 256 * RATE // 1000 - WINDOW <= utt.start <= onset, "256 ms of pre-roll keeps the first syllable"
    assert abs(utt.speech_end - 3.0 * RATE) <= WINDOW
    assert ended.upto == utt.speech_end + 96 * RATE // 1000, "the final covers 96 ms after the last speech window"
    assert utt.audio(ended.upto).size == ended.upto - utt.start


def test_partials_are_due_at_least_every_half_second_of_speech():
    events = run(quiet(0.5), speech(4.0), quiet(1.0))
    ended = of(events, Ended)[0]
    due = [i for i, e in enumerate(events) if isinstance(e, PartialDue)]
    assert len(due) >= int(4.0 / 0.5)
    assert all(i < events.index(ended) for i in due), "no partial after the end"


def test_a_final_candidate_is_due_once_per_pause_and_before_the_end():
    events = run(quiet(0.5), speech(1.0), quiet(0.2), speech(1.0), quiet(1.0))
    candidates = of(events, CandidateDue)
    [ended] = of(events, Ended)
    assert len(candidates) == 2, "one per pause: the short one inside, and the final one"
    assert candidates[-1].upto == ended.upto, "the last candidate covers exactly the final's audio"
    assert events.index(candidates[-1]) < events.index(ended)


def test_a_short_pause_does_not_split_but_a_long_one_does():
    assert len(of(run(quiet(0.3), speech(1.0), quiet(0.25), speech(1.0), quiet(1.0)), Ended)) == 1
    assert len(of(run(quiet(0.3), speech(1.0), quiet(0.5), speech(1.0), quiet(1.0)), Ended)) == 2


def test_clicks_are_dropped_not_transcribed():
    events = run(quiet(0.5), speech(0.1), quiet(1.0))
    assert of(events, Ended) == []
    assert len(of(events, Dropped)) == 1


def test_silence_never_starts_an_utterance():
    assert run(quiet(10.0), finish=True) == []


def test_end_of_stream_finalizes_the_utterance_in_progress():
    events = run(quiet(0.3), speech(1.5), finish=True)
    [ended] = of(events, Ended)
    assert ended.reason == "end_of_stream"


@pytest.mark.parametrize("breath_s", [0.0, 0.12])
def test_an_endless_monologue_is_cut_into_utterances_of_at_most_twenty_seconds(breath_s):
    # 60 s of speech; with breaths (shorter than the hangover) or with none at all.
    sentence = np.concatenate([speech(2.5), quiet(breath_s)])
    count = int(60 / (2.5 + breath_s))
    events = run(*[sentence] * count, quiet(1.0))
    ended = of(events, Ended)
    lengths = [(e.upto - e.utterance.start) / RATE for e in ended]
    assert max(lengths) <= 20.0 + 0.1
    assert sum(e.utterance.voiced for e in ended) / RATE >= count * 2.5 - 0.05, "no speech lost at the cuts"
    if breath_s:
        assert all(e.reason == "pause" for e in ended[:-1]), "past the soft limit it ends at the next breath"
        assert all(length >= 15.0 for length in lengths[:-1])
    else:
        assert {e.reason for e in ended[:-1]} == {"max_length"}, "no breath: cut at the hard limit"
    # Cuts leave no gap and no overlap: each utterance starts where the last one was cut.
    for before, after in itertools.pairwise(ended):
        if before.reason == "max_length":
            assert after.utterance.start == before.utterance.end

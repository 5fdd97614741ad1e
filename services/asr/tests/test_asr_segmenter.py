"""The utterance segmenter on synthetic audio: loud windows are speech
(probability 0.9), quiet ones are not (0.05), so every boundary is exact."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from sightline_asr.segmenter import RATE, CandidateDue, Dropped, Ended, PartialDue, Segmenter, SegmenterConfig, Started, end_verdict
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


# --- adaptive end of utterance ---

CONFIG = SegmenterConfig()
assert CONFIG.candidate_ms < CONFIG.early_hangover_ms < CONFIG.hangover_ms < CONFIG.late_hangover_ms


def feed(segmenter: Segmenter, *parts: np.ndarray, chunk: int = 320) -> list[tuple[int, object]]:
    """(stream position when it happened, event) for every event."""
    audio = np.concatenate(parts)
    happened = []
    for start in range(0, audio.size, chunk):
        happened += [(segmenter.position, e) for e in segmenter.push(audio[start : start + chunk])]
    return happened


def events_of(happened: list, kind: type) -> list:
    return [(at, e) for at, e in happened if isinstance(e, kind)]


def ms(samples: int) -> float:
    return samples * 1000 / RATE


def pause_that_ended(happened: list) -> tuple[float, Ended]:
    """(ms of silence after the last speech when the utterance ended, the event)."""
    [(at, ended)] = events_of(happened, Ended)
    return ms(at - ended.utterance.speech_end), ended


def candidate_in_pause(segmenter: Segmenter, speech_s: float, pause_s: float) -> CandidateDue:
    """Speech, then `pause_s` of silence: the candidate that came due in it."""
    happened = feed(segmenter, quiet(0.5), speech(speech_s), quiet(pause_s))
    [(_, candidate)] = events_of(happened, CandidateDue)
    assert not events_of(happened, Ended)
    return candidate


def test_without_a_verdict_a_pause_ends_after_the_plain_hangover():
    segmenter = Segmenter(CONFIG, loudness_probability)
    silence_ms, ended = pause_that_ended(feed(segmenter, quiet(0.5), speech(2.0), quiet(1.0)))
    assert CONFIG.hangover_ms <= silence_ms < CONFIG.hangover_ms + ms(WINDOW)
    assert ended.reason == "pause"


def test_a_complete_sentence_ends_its_pause_after_the_early_hangover():
    segmenter = Segmenter(CONFIG, loudness_probability)
    candidate = candidate_in_pause(segmenter, 2.0, 0.13)
    assert segmenter.judge(candidate.upto, complete=True) == [], "130 ms of pause: not yet the early hangover"
    silence_ms, ended = pause_that_ended(feed(segmenter, quiet(1.0)))
    assert CONFIG.early_hangover_ms <= silence_ms < CONFIG.early_hangover_ms + ms(WINDOW), "not the plain hangover"
    assert ended.reason == "sentence"
    assert ended.upto == candidate.upto, "the final covers exactly the candidate's audio, so the candidate is the final"


def test_a_verdict_that_arrives_after_the_early_hangover_ends_the_utterance_at_once():
    segmenter = Segmenter(CONFIG, loudness_probability)
    candidate = candidate_in_pause(segmenter, 2.0, 0.25)  # the candidate took ~150 ms
    [ended] = segmenter.judge(candidate.upto, complete=True)
    assert isinstance(ended, Ended)
    assert (ended.reason, ended.upto) == ("sentence", candidate.upto)
    assert segmenter.current is None
    assert not [e for e in segmenter.push(quiet(1.0)) if isinstance(e, Ended)], "one end per utterance"


def test_an_unknown_verdict_keeps_the_plain_hangover():
    segmenter = Segmenter(CONFIG, loudness_probability)
    candidate = candidate_in_pause(segmenter, 2.0, 0.25)
    assert segmenter.judge(candidate.upto, complete=None) == []
    silence_ms, ended = pause_that_ended(feed(segmenter, quiet(1.0)))
    assert CONFIG.hangover_ms <= silence_ms < CONFIG.hangover_ms + ms(WINDOW)
    assert ended.reason == "pause"


def test_unfinished_text_keeps_the_utterance_open_through_a_longer_pause():
    # A 400 ms pause ends an utterance without a verdict...
    plain = run(quiet(0.5), speech(1.5), quiet(0.4), speech(1.5), quiet(1.0))
    assert len(of(plain, Ended)) == 2
    # ...but not after "... and the": the speaker is mid-sentence.
    segmenter = Segmenter(CONFIG, loudness_probability)
    candidate = candidate_in_pause(segmenter, 1.5, 0.15)
    assert segmenter.judge(candidate.upto, complete=False) == []
    [(_, ended)] = events_of(feed(segmenter, quiet(0.25), speech(1.5), quiet(1.0)), Ended)
    assert ended.utterance.start < candidate.upto < ended.upto, "one utterance across the pause"
    # The late hangover is a maximum: an unfinished pause still ends.
    segmenter = Segmenter(CONFIG, loudness_probability)
    segmenter.judge(candidate_in_pause(segmenter, 1.5, 0.15).upto, complete=False)
    silence_ms, ended = pause_that_ended(feed(segmenter, quiet(1.0)))
    assert CONFIG.late_hangover_ms <= silence_ms < CONFIG.late_hangover_ms + ms(WINDOW)
    assert ended.reason == "pause"


def test_a_verdict_holds_for_its_own_pause_only():
    segmenter = Segmenter(CONFIG, loudness_probability)
    segmenter.judge(candidate_in_pause(segmenter, 1.0, 0.13).upto, complete=True)
    # Speech resumes before the early hangover: the verdict is void, and the next
    # pause (250 ms, under the plain hangover) does not end the utterance.
    happened = feed(segmenter, speech(1.0), quiet(0.25), speech(1.0), quiet(1.0))
    [(_, ended)] = events_of(happened, Ended)
    assert ended.reason == "pause"
    assert ms(ended.utterance.speech_end - ended.utterance.speech_start) > 3000, "one utterance over all three bursts"


def test_a_stale_verdict_is_ignored():
    segmenter = Segmenter(CONFIG, loudness_probability)
    candidate = candidate_in_pause(segmenter, 1.0, 0.13)
    feed(segmenter, speech(0.5))  # the candidate's result comes back after speech resumed
    assert segmenter.judge(candidate.upto, complete=True) == []
    happened = feed(segmenter, quiet(0.25), speech(0.5), quiet(1.0))
    assert len(events_of(happened, Ended)) == 1, "the 250 ms pause did not end it early"
    assert segmenter.judge(candidate.upto, complete=True) == [], "and after the end there is nothing to judge"


@pytest.mark.parametrize(
    ("text", "previous", "end_probability", "verdict"),
    [
        ("Excuse me, where is the nearest train station?", "Excuse me, where is the nearest train station?", None, True),
        ("The museum opens at nine in the morning.", "The museum opens at nine in the morning", None, True),  # same words
        ("Where are you from?", "where are you from", 0.1, True),  # a preposition may end a sentence
        ("The museum opens at nine in the morning.", "The museum opens at nine in the", 0.9, True),  # the engine is sure
        ("The museum opens at nine in the morning.", "The museum opens at nine in the", 0.69, None),  # not sure, not stable
        ("The museum opens at nine in the morning.", None, None, None),  # one decode and no engine's word
        ("My phone battery is almost empty", "My phone battery is almost empty", 0.99, None),  # no punctuation: cannot tell
        ("Excuse me,", "Excuse me,", 0.99, False),
        ("I would like a cup of coffee and", "I would like a cup of coffee and", None, False),
        ("We are meeting our friends at the.", "We are meeting our friends at the.", 0.99, False),  # punctuation or not
        ("Turn left at the second traffic light -", None, None, False),
        ("", "", None, None),
    ],
)
def test_the_words_before_a_pause_decide_its_length(text, previous, end_probability, verdict):
    assert end_verdict(text, previous, end_probability, confident=0.7) is verdict

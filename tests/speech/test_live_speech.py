"""English speech through the glasses' microphone up-link into the asr
service: accurate finals, partials before them, streaming no worse than
transcribing the whole file, and two devices talking at once each get only
their own transcripts."""

from __future__ import annotations

import asyncio
import itertools
import statistics

import pytest
import pytest_asyncio
from sightline_asr import testing
from sightline_asr.engines.moonshine import MoonshineEngine
from sightline_glasses.agent import GlassesAgent

from tests.speech.conftest import metric, transcripts, with_gaps

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]

# Measured on this 2-core machine (docs/asr.md): streaming Moonshine scores a
# WER of 0.096 over the 12 espeak-ng sentences (whole files: 0.125); one device
# gets the hard half ("nine", "speak a little") at 0.149. Bounds leave room.
MAX_WER = 0.15
MAX_WER_PER_DEVICE = 0.25
MAX_STREAMING_PENALTY = 0.05


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def heard(asr, hub, devices, corpus):
    """alpha and bravo each say half of the sentences, at the same time, in
    real time; everything the asr publishes is recorded."""
    await devices.add("alpha")
    await devices.add("bravo")
    scripts = {"alpha": corpus[0::2], "bravo": corpus[1::2]}
    async with (
        transcripts(hub.url) as log,
        GlassesAgent.connect("alpha", hub.url) as alpha,
        GlassesAgent.connect("bravo", hub.url) as bravo,
    ):
        uplinks = {"alpha": alpha.audio_uplink(target_language="es"), "bravo": bravo.audio_uplink(target_language="zh")}
        await asyncio.gather(
            uplinks["alpha"].send(with_gaps(scripts["alpha"]), end_of_stream=True),
            uplinks["bravo"].send(with_gaps(scripts["bravo"], lead_s=0.9), end_of_stream=True),
        )
        for device, script in scripts.items():
            await log.wait_finals(device, len(script), timeout_s=10)
        await asyncio.sleep(1.0)  # anything late (a duplicate, a stray partial) would show now
    return log, scripts, uplinks


async def test_finals_match_the_script(heard):
    log, scripts, _ = heard
    for device, script in scripts.items():
        finals = [t.text for t in log.finals(device)]
        wer = testing.word_error_rate([s.text for s in script], finals)
        print(f"{device}: WER {wer:.3f}\n  " + "\n  ".join(finals))
        assert wer <= MAX_WER_PER_DEVICE, f"{device}: WER {wer:.2f} over {MAX_WER_PER_DEVICE}: {finals}"
        assert len(finals) == len(script), "one final per sentence"
        assert all(t.engine == "moonshine-base-en" and t.language == "en" for t in log.finals(device))
    references = [s.text for device in scripts for s in scripts[device]]
    overall = testing.word_error_rate(references, [t.text for device in scripts for t in log.finals(device)])
    assert overall <= MAX_WER, f"WER {overall:.3f} over {MAX_WER}"


async def test_each_device_gets_only_its_own_transcripts(heard):
    log, scripts, uplinks = heard
    for device in scripts:
        other = "bravo" if device == "alpha" else "alpha"
        mine = [h.transcript for h in log.of(device)]
        assert mine, f"{device} got no transcripts"
        assert {t.meta.device_id for t in mine} == {device}
        assert {t.stream_id for t in mine} == {uplinks[device].stream_id}
        assert {t.target_language for t in mine} == {uplinks[device].target_language}
        # None of the other device's sentences leaked into this device's finals.
        finals = " ".join(testing.normalize(t.text) for t in log.finals(device))
        assert testing.word_error_rate([s.text for s in scripts[other]], [finals]) > 0.7


async def test_partials_arrive_before_each_final_at_least_every_half_second(heard):
    log, scripts, _ = heard
    for device in scripts:
        for final in log.finals(device):
            items = [h for h in log.of(device) if h.transcript.utterance_id == final.utterance_id]
            partials = [h for h in items if not h.transcript.is_final]
            final_at = next(h.at for h in items if h.transcript.is_final)
            assert partials, f"no partial before the final {final.text!r}"
            assert all(p.at < final_at for p in partials)
            revisions = [p.transcript.revision for p in partials]
            assert revisions == list(range(1, len(revisions) + 1))
            assert final.revision == len(revisions) + 1
            speech_s = (final.speech_ended_at.ToNanoseconds() - final.speech_started_at.ToNanoseconds()) / 1e9
            gaps = [b.at - a.at for a, b in itertools.pairwise(partials)]
            print(f"{device} {speech_s:.1f}s speech: {len(partials)} partials, median gap {statistics.median(gaps or [0]):.2f}s")
            # Two devices share the replica's two inference workers, so allow some slack over 0.5 s.
            assert len(partials) >= int(speech_s / 0.7), f"{len(partials)} partials for {speech_s:.1f}s of speech"
        assert len({h.transcript.meta.seq for h in log.of(device)}) == len(log.of(device))
        seqs = [h.transcript.meta.seq for h in log.of(device)]
        assert seqs == sorted(seqs), "transcript seq grows per device"


async def test_streaming_is_within_five_points_of_whole_file_transcription(heard, corpus):
    log, scripts, _ = heard
    engine = MoonshineEngine()
    await asyncio.to_thread(engine.load)
    offline = [(await asyncio.to_thread(engine.transcribe, item.pcm)).text for item in corpus]
    offline_wer = testing.word_error_rate([s.text for s in corpus], offline)
    streaming = [t.text for device in scripts for t in log.finals(device)]
    references = [s.text for device in scripts for s in scripts[device]]
    streaming_wer = testing.word_error_rate(references, streaming)
    print(f"WER streaming {streaming_wer:.3f}, whole files {offline_wer:.3f}")
    assert streaming_wer <= offline_wer + MAX_STREAMING_PENALTY


async def test_complete_sentences_end_at_the_early_hangover(heard, asr):
    """Adaptive end of utterance on real speech: a sentence Moonshine reads as
    complete (full stop or question mark, and stable or sure) ends after the
    short hangover, its candidate published as the final; the one sentence
    with a comma pause inside ("... with milk, please.") still is one final
    (test_finals_match_the_script)."""
    _, scripts, _ = heard
    reasons = {r: metric(asr, "sightline_asr_utterances_total", reason=r) for r in ("sentence", "pause", "end_of_stream")}
    verdicts = {v: metric(asr, "sightline_asr_end_verdicts_total", verdict=v) for v in ("complete", "unfinished", "unknown")}
    print(f"utterances ended by {reasons}; candidate verdicts {verdicts}")
    sentences = sum(len(script) for script in scripts.values())
    assert sum(reasons.values()) == sentences
    # Measured: 10-12 of the 12 (a slow candidate on a busy machine may miss the
    # early end and fall back to the plain hangover); the rule must not be dead.
    assert reasons["sentence"] >= sentences * 2 // 3, reasons
    assert verdicts["unfinished"] >= 1, "the comma pause in '... with milk, please.' was judged unfinished"

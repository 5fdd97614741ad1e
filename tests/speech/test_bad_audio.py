"""Bad audio over a real nats-server: silence and noise stay silent; frames
the asr cannot take are refused through the guard (an ErrorEvent with a
fitting code, a dead letter without the audio); a 60 s monologue is cut
into utterances of at most ~20 s; a flooding device is rate-limited while
another keeps getting transcripts."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest
from sightline.v1.audio_pb2 import AudioEncoding, AudioFrame
from sightline.v1.errors_pb2 import ErrorCode, ErrorEvent
from sightline_asr import testing
from sightline_glasses.agent import GlassesAgent
from sightline_runtime.consumer import DLQ_PAYLOAD_DROPPED, DLQ_REASON
from sightline_runtime.events import event_headers, new_meta

from tests.speech.conftest import metric, stored, transcripts, with_gaps

pytestmark = pytest.mark.asyncio(loop_scope="module")


def frame(device: str, **fields) -> AudioFrame:
    values = {
        "stream_id": "s1",
        "encoding": AudioEncoding.AUDIO_ENCODING_PCM_S16LE,
        "sample_rate_hz": 16_000,
        "channels": 1,
        "data": b"\x00\x01" * 320,
        "source_language": "en",
    } | fields
    return AudioFrame(meta=new_meta(device, "glasses"), **values)


BAD_FRAMES = [
    # (name, payload, ErrorCode)
    ("8 kHz", lambda d: frame(d, sample_rate_hz=8_000).SerializeToString(), ErrorCode.ERROR_CODE_UNSUPPORTED_MEDIA),
    ("no encoding", lambda d: frame(d, encoding=0).SerializeToString(), ErrorCode.ERROR_CODE_UNSUPPORTED_MEDIA),
    ("unknown encoding", lambda d: frame(d, encoding=7).SerializeToString(), ErrorCode.ERROR_CODE_UNSUPPORTED_MEDIA),
    ("stereo", lambda d: frame(d, channels=2).SerializeToString(), ErrorCode.ERROR_CODE_UNSUPPORTED_MEDIA),
    ("odd byte count", lambda d: frame(d, data=b"\x00" * 641).SerializeToString(), ErrorCode.ERROR_CODE_INVALID),
    ("no stream id", lambda d: frame(d, stream_id="").SerializeToString(), ErrorCode.ERROR_CODE_INVALID),
    ("empty, not the end", lambda d: frame(d, data=b"").SerializeToString(), ErrorCode.ERROR_CODE_INVALID),
    ("200 ms frame", lambda d: frame(d, data=b"\x00" * 6_400).SerializeToString(), ErrorCode.ERROR_CODE_OVERSIZED),
    ("300 kB payload", lambda d: frame(d, data=b"\x00" * 300_000).SerializeToString(), ErrorCode.ERROR_CODE_OVERSIZED),
    ("not protobuf", lambda d: b"\xff\xfe\x00 not a frame", ErrorCode.ERROR_CODE_MALFORMED),
    ("forged device", lambda d: frame("someone-else").SerializeToString(), ErrorCode.ERROR_CODE_DEVICE_MISMATCH),
]


async def test_silence_and_noise_produce_no_transcripts_and_no_errors(asr, hub, hub_client, devices, tmp_path):
    await devices.add("quiet")
    audio = np.concatenate(
        [testing.silence(1.0)] + [testing.noise_pcm(tmp_path, 1.5, color=c, volume=0.4) for c in ("white", "pink", "brown")]
    )
    async with transcripts(hub.url) as log, GlassesAgent.connect("quiet", hub.url) as glasses:
        await glasses.audio_uplink().send(audio, end_of_stream=True, speed=1.8)
        await asyncio.sleep(1.0)
    assert log.of("quiet") == []
    assert await stored(hub_client.jetstream(), "ERRORS", "errors.asr.quiet") == []
    assert metric(asr, "sightline_asr_utterances_total", reason="end_of_stream") == 0


async def test_frames_the_asr_cannot_take_are_refused_and_reported_without_their_audio(asr, hub, hub_client, devices, corpus):
    await devices.add("bad")
    js = hub_client.jetstream()
    for _name, payload, _code in BAD_FRAMES:
        body = payload("bad")
        await hub_client.publish("glasses.bad.up.audio", body, headers={"content-type": "application/x-protobuf"})
    await hub_client.flush()
    await asyncio.sleep(0.5)
    errors = [ErrorEvent.FromString(m.data) for m in await stored(js, "ERRORS", "errors.asr.>")]
    codes = sorted(e.code for e in errors if e.subject.startswith("glasses.bad.up.audio"))
    assert codes == sorted(code for _n, _p, code in BAD_FRAMES)
    assert all(e.service == "asr" and e.handler == "audio_frame" for e in errors)
    dead = await stored(js, "DEAD_LETTERS", "dlq.asr.audio_frame")
    assert len(dead) == len(BAD_FRAMES)
    assert all(m.data == b"" for m in dead), "raw audio is never persisted, not even in a dead letter"
    assert all(DLQ_PAYLOAD_DROPPED in m.headers for m in dead)
    assert {m.headers[DLQ_REASON] for m in dead} == {"unsupported_media", "invalid", "oversized", "malformed", "device_mismatch"}

    # Still serving: a good sentence from the same device is transcribed.
    async with transcripts(hub.url) as log, GlassesAgent.connect("bad", hub.url) as glasses:
        await glasses.audio_uplink().send(with_gaps(corpus[:1], gap_s=0.5), end_of_stream=True)
        [final] = await log.wait_finals("bad", 1)
    assert testing.word_error_rate([corpus[0].text], [final.text]) <= 0.2


async def test_a_payload_over_the_server_limit_never_reaches_the_asr(asr, hub, hub_client):
    with pytest.raises(Exception, match="payload"):
        await hub_client.publish("glasses.bad.up.audio", b"\x00" * (hub.config.max_payload + 1))


@pytest.mark.slow
async def test_a_sixty_second_monologue_is_cut_into_utterances_of_at_most_twenty_seconds(asr, hub, devices, corpus):
    await devices.add("talker")
    # Sentences (trimmed of espeak's own silence) joined by 120 ms breaths, shorter
    # than the 320 ms hangover: only the length limits can cut this.
    monologue = []
    while sum(p.size for p in monologue) < 60 * testing.RATE:
        for item in corpus:
            start, end = testing.speech_bounds(item.pcm)
            monologue += [item.pcm[int(start * testing.RATE) : int(end * testing.RATE)], testing.silence(0.12)]
    audio = np.concatenate(monologue)[: 60 * testing.RATE]
    async with transcripts(hub.url) as log, GlassesAgent.connect("talker", hub.url) as glasses:
        await glasses.audio_uplink().send(audio, end_of_stream=True, speed=1.9)
        await asyncio.sleep(3.0)
    finals = log.finals("talker")
    lengths = [(t.speech_ended_at.ToNanoseconds() - t.speech_started_at.ToNanoseconds()) / 1e9 for t in finals]
    print("utterance lengths:", [round(x, 1) for x in lengths])
    assert len(finals) >= 3
    assert max(lengths) <= 20.5
    assert sum(1 for x in lengths if x >= 12) >= 2, "pauses inside the monologue must not end utterances before the soft limit"
    assert sum(lengths) >= 50, "the whole monologue is transcribed, not dropped"
    words = sum(len(t.text.split()) for t in finals)
    assert words >= 120, f"only {words} words transcribed from a minute of speech"


@pytest.mark.slow
async def test_a_flooding_device_is_rate_limited_and_others_keep_getting_transcripts(asr, hub, hub_client, devices, corpus):
    await devices.add("flood")
    await devices.add("calm")
    speech = np.concatenate([item.pcm for item in corpus[:4]] * 3)

    def rate_dropped() -> float:
        # The runtime's admission (100 frames/s, 100 at once) drops before decoding; the asr's own bucket
        # (2x real time in seconds of audio) after it, for frames admission let through.
        labels = {"service": "asr", "handler": "audio_frame", "action": "dropped"}
        admission = asr.metrics.registry.get_sample_value("sightline_admission_limited_total", labels) or 0.0
        return admission + metric(asr, "sightline_asr_frames_dropped_total", reason="rate_limited")

    dropped_before = rate_dropped()
    flood_frames = 1500  # 30 s of speech (so it wants inference too) in 20 ms frames
    started = time.monotonic()

    async def flood() -> None:
        # All at once, as fast as the client sends: the service sees it as a burst.
        for index in range(flood_frames):
            event = frame("flood", stream_id="f1", data=speech[index * 320 : (index + 1) * 320].tobytes())
            event.meta.seq = index + 1
            await hub_client.publish("glasses.flood.up.audio", event.SerializeToString(), headers=event_headers(event))

    async with transcripts(hub.url) as log, GlassesAgent.connect("calm", hub.url) as calm:
        await asyncio.gather(flood(), calm.audio_uplink().send(with_gaps(corpus[2:4], gap_s=0.6), end_of_stream=True))
        finals = await log.wait_finals("calm", 2)
    assert testing.word_error_rate([c.text for c in corpus[2:4]], [t.text for t in finals]) <= 0.25

    # Admission lets through 100 frames plus 100/s for the time the flood took to handle; the rest is dropped.
    last, changed_at = -1.0, time.monotonic()
    while time.monotonic() - changed_at < 0.5:
        dropped = rate_dropped() - dropped_before
        if dropped != last:
            last, changed_at = dropped, time.monotonic()
        await asyncio.sleep(0.05)
    allowed = 100 + 100 * (changed_at - started)
    print(f"flood: {last:.0f} of {flood_frames} frames dropped in {changed_at - started:.1f}s (at most {allowed:.0f} allowed)")
    assert last >= flood_frames - allowed - 5
    assert last > 0
    errors = [ErrorEvent.FromString(m.data) for m in await stored(hub_client.jetstream(), "ERRORS", "errors.asr.flood")]
    # One report per device per 5 s (admission) and 10 s (the asr's bucket) window, not one per frame.
    assert {e.code for e in errors} == {ErrorCode.ERROR_CODE_RATE_LIMITED}
    assert 1 <= len(errors) <= 2 + int((changed_at - started) / 5.0) + int((changed_at - started) / 10.0), len(errors)
    assert await stored(hub_client.jetstream(), "ERRORS", "errors.asr.calm") == []


async def test_speech_in_a_language_the_engine_lacks_is_dropped_and_reported_once(asr, hub, hub_client, devices, corpus):
    await devices.add("chinese")
    before = metric(asr, "sightline_asr_frames_dropped_total", reason="unsupported_language")
    async with transcripts(hub.url) as log, GlassesAgent.connect("chinese", hub.url) as glasses:
        uplink = glasses.audio_uplink(source_language="zh-CN", target_language="en")
        await uplink.send(with_gaps(corpus[:1], gap_s=0.4), end_of_stream=True, speed=1.8)
        await asyncio.sleep(1.0)
    assert log.of("chinese") == [], "an English model must not caption Chinese speech"
    assert metric(asr, "sightline_asr_frames_dropped_total", reason="unsupported_language") - before == uplink.frames_sent
    errors = [ErrorEvent.FromString(m.data) for m in await stored(hub_client.jetstream(), "ERRORS", "errors.asr.chinese")]
    assert [e.code for e in errors] == [ErrorCode.ERROR_CODE_UNSUPPORTED_LANGUAGE]
    assert "zh-CN" in errors[0].message


async def test_replayed_or_reordered_frames_are_dropped(asr, hub_client, devices):
    await devices.add("replay")
    before = metric(asr, "sightline_asr_frames_dropped_total", reason="out_of_order")
    for seq in (10, 11, 11, 9, 12):
        event = frame("replay", stream_id="r1")
        event.meta.seq = seq
        await hub_client.publish("glasses.replay.up.audio", event.SerializeToString(), headers=event_headers(event))
    await hub_client.flush()
    await asyncio.sleep(0.5)
    assert metric(asr, "sightline_asr_frames_dropped_total", reason="out_of_order") - before == 2

"""Frame checks, the per-device token bucket and the report window."""

from __future__ import annotations

import numpy as np
import pytest
from sightline.v1.audio_pb2 import AudioEncoding, AudioFrame
from sightline.v1.errors_pb2 import ErrorCode
from sightline_asr.frames import frame_samples
from sightline_asr.ratelimit import DeviceBuckets, ReportWindow, TokenBucket
from sightline_runtime.codec import EventRejected
from sightline_runtime.events import new_meta


def frame(**fields) -> AudioFrame:
    values = {"stream_id": "s", "encoding": AudioEncoding.AUDIO_ENCODING_PCM_S16LE, "sample_rate_hz": 16_000, "channels": 1}
    values |= {"data": np.arange(320, dtype="<i2").tobytes()} | fields
    return AudioFrame(meta=new_meta("g1", "glasses"), **values)


def check(f: AudioFrame) -> np.ndarray:
    return frame_samples(f, sample_rate_hz=16_000, max_frame_ms=100)


def test_a_good_frame_gives_its_samples():
    assert check(frame()).tolist() == list(range(320))
    assert check(frame(data=b"", end_of_stream=True)).size == 0


@pytest.mark.parametrize(
    ("fields", "code", "words"),
    [
        ({"sample_rate_hz": 44_100}, ErrorCode.ERROR_CODE_UNSUPPORTED_MEDIA, "44100 Hz"),
        ({"encoding": 0}, ErrorCode.ERROR_CODE_UNSUPPORTED_MEDIA, "AUDIO_ENCODING_UNSPECIFIED"),
        ({"encoding": 9}, ErrorCode.ERROR_CODE_UNSUPPORTED_MEDIA, "encoding 9"),
        ({"channels": 2}, ErrorCode.ERROR_CODE_UNSUPPORTED_MEDIA, "2 channels"),
        ({"channels": 0}, ErrorCode.ERROR_CODE_UNSUPPORTED_MEDIA, "0 channels"),
        ({"data": b"\x00" * 3}, ErrorCode.ERROR_CODE_INVALID, "16-bit"),
        ({"data": b"\x00" * 3202}, ErrorCode.ERROR_CODE_OVERSIZED, "100 ms"),
        ({"data": b""}, ErrorCode.ERROR_CODE_INVALID, "no audio"),
        ({"stream_id": ""}, ErrorCode.ERROR_CODE_INVALID, "stream_id"),
        ({"stream_id": "x" * 200}, ErrorCode.ERROR_CODE_INVALID, "stream_id"),
    ],
)
def test_frames_the_asr_cannot_take_are_rejected_with_a_fitting_code(fields, code, words):
    with pytest.raises(EventRejected, match=words) as refused:
        check(frame(**fields))
    assert refused.value.code == code
    assert refused.value.device_id == "g1"


def test_the_bucket_allows_a_burst_then_the_rate():
    bucket = TokenBucket(rate=2.0, burst=1.0, now=0.0)
    assert bucket.take(1.0, now=0.0)
    assert not bucket.take(0.02, now=0.0)
    assert bucket.take(0.02, now=0.01)  # 10 ms at 2x refills 20 ms of audio
    assert not bucket.take(0.5, now=0.01)
    assert bucket.take(1.0, now=100.0), "idle time refills up to the burst"
    assert not bucket.take(0.02, now=100.0), "but never beyond it"


def test_real_time_audio_is_never_limited_and_double_speed_is_cut_to_twice_real_time():
    buckets = DeviceBuckets(rate=2.0, burst=2.0)
    now = 0.0
    for _ in range(3000):  # 60 s of 20 ms frames in real time
        assert buckets.allow("calm", 0.02, now)
        now += 0.02
    allowed = sum(buckets.allow("flood", 0.02, 1000 + i * 0.002) for i in range(5000))  # 10 s at 10x
    assert 1000 <= allowed <= 1100 + 100  # 2 s burst + 2 x 10 s = 22 s = 1100 frames


def test_devices_have_their_own_buckets_and_old_ones_are_forgotten():
    buckets = DeviceBuckets(rate=1.0, burst=0.1, max_devices=2)
    assert buckets.allow("a", 0.1, 0.0)
    assert not buckets.allow("a", 0.1, 0.0)
    assert buckets.allow("b", 0.1, 0.0)
    assert buckets.allow("c", 0.1, 0.0)
    assert buckets.allow("a", 0.1, 0.0), "a was forgotten (a fresh bucket), memory stays bounded"


def test_a_report_window_lets_one_report_through_per_key():
    window = ReportWindow(10.0)
    assert window.should_report(("rate", "a"), 0.0)
    assert not window.should_report(("rate", "a"), 9.9)
    assert window.should_report(("rate", "b"), 9.9)
    assert window.should_report(("rate", "a"), 10.0)

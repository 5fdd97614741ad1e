"""Per-device admission (sightline_runtime.admission): the token buckets on
their own, then through a Service against a real nats-server: core-NATS
messages over the rate are dropped, JetStream ones delayed (and handled
later, spread at the rate) or, past the bound, dead-lettered; the device is
told, once per report interval; another device is not held up."""

from __future__ import annotations

import asyncio
import itertools
import time

import nats
import pytest
from nats.js.api import ConsumerConfig, DeliverPolicy
from sightline.v1.audio_pb2 import AudioEncoding, AudioFrame
from sightline.v1.errors_pb2 import ErrorCode, ErrorEvent
from sightline.v1.input_pb2 import DeviceInput, TextInput
from sightline_runtime.admission import AUDIO_FRAMES, INPUTS, PHOTO_NOTICES, DeviceRate, RateBuckets
from sightline_runtime.consumer import DLQ_REASON, DLQ_SUBJECT, EventContext, HandlerSpec
from sightline_runtime.devices import StaticDirectory
from sightline_runtime.events import event_headers, new_meta
from sightline_runtime.processes import free_port
from sightline_runtime.service import Service
from sightline_runtime.settings import ServiceSettings
from sightline_runtime.streams import ConsumerSpec
from sightline_runtime.surface import BusSurface, Subscribe


# --- the buckets ---
def test_a_burst_passes_then_the_rate_holds():
    # 8/s: one token every 0.125 s (times in 1/64 s, exact in binary floating point).
    buckets = RateBuckets(per_s=8.0, burst=5)
    assert [buckets.admit("a", 0.0) for _ in range(7)] == [True] * 5 + [False] * 2
    assert buckets.admit("a", 4 / 64) is False, "half a token is not a token"
    assert buckets.admit("a", 8 / 64) is True
    assert buckets.admit("a", 8 / 64) is False
    # Over the next second, eight get through: the rate, not the burst again.
    admitted = sum(buckets.admit("a", (8 + i) / 64) for i in range(1, 65))
    assert admitted == 8
    # Idle long enough, the bucket is full again, and no fuller.
    assert [buckets.admit("a", 100.0) for _ in range(6)] == [True] * 5 + [False]


def test_devices_have_buckets_of_their_own():
    buckets = RateBuckets(per_s=1.0, burst=2)
    assert [buckets.admit("flood", 0.0) for _ in range(50)].count(True) == 2
    assert [buckets.admit("calm", 0.0), buckets.admit("calm", 0.0)] == [True, True]


def test_reservations_spread_the_excess_at_the_rate_and_stop_at_the_bound():
    buckets = RateBuckets(per_s=5.0, burst=2)
    waits = [buckets.reserve("a", 0.0, max_wait_s=1.0) for _ in range(10)]
    assert waits[:2] == [0.0, 0.0]
    assert waits[2:7] == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])
    assert waits[7:] == [None, None, None], "past the bound nothing is booked"
    # The booked slots hold: the next one is after the last reservation, not before.
    assert buckets.reserve("a", 0.5, max_wait_s=1.0) == pytest.approx(0.7)


def test_memory_is_bounded_and_the_flooder_is_the_one_remembered():
    buckets = RateBuckets(per_s=1.0, burst=1, max_keys=100)
    assert buckets.admit("flood", 0.0)
    for i in range(1_000):
        buckets.admit(f"device-{i}", 0.0)
        assert not buckets.admit("flood", 0.0)
    assert len(buckets) == 100


def test_a_rate_that_admits_nothing_is_refused():
    with pytest.raises(ValueError, match="admits nothing"):
        RateBuckets(per_s=0.0, burst=5)
    with pytest.raises(ValueError, match="at least 1"):
        DeviceRate("things", 5.0, 0.5).resolve(None)
    with pytest.raises(ValueError, match="negative"):
        DeviceRate("things", -1.0, 5).resolve(None)


def test_the_uplink_rates_come_from_settings(monkeypatch):
    for name in ("AUDIO_PER_S", "AUDIO_BURST", "INPUT_PER_S", "INPUT_BURST", "PHOTO_PER_S", "PHOTO_BURST"):
        monkeypatch.delenv(f"SIGHTLINE_ADMISSION_{name}", raising=False)
    # Defaults: audio is 50 frames/s of 20 ms in real time, admitted at 2x with 1 s of that at once.
    defaults = ServiceSettings()
    assert AUDIO_FRAMES.resolve(defaults) == (100.0, 100.0)
    assert INPUTS.resolve(defaults) == (10.0, 100.0)
    assert PHOTO_NOTICES.resolve(defaults) == (2.0, 50.0)
    monkeypatch.setenv("SIGHTLINE_ADMISSION_AUDIO_PER_S", "60")
    monkeypatch.setenv("SIGHTLINE_ADMISSION_PHOTO_BURST", "7")
    tuned = ServiceSettings()
    assert AUDIO_FRAMES.resolve(tuned) == (60.0, 100.0)
    assert PHOTO_NOTICES.resolve(tuned) == (2.0, 7.0)


# --- through a Service, against a real nats-server ---
class Recorder:
    def __init__(self) -> None:
        self.got: list[tuple[float, str, str]] = []  # (monotonic, device, text or stream id)

    async def on_input(self, event: DeviceInput, ctx: EventContext) -> None:
        self.got.append((time.monotonic(), ctx.device_id, event.text.text))

    async def on_frame(self, event: AudioFrame, ctx: EventContext) -> None:
        self.got.append((time.monotonic(), ctx.device_id, event.stream_id))


SURFACE = BusSurface(
    service="adm",
    description="admission test service",
    subscribes=(
        Subscribe(HandlerSpec("frame", AudioFrame, subject="glasses.*.up.audio", admission=AUDIO_FRAMES), "on_frame"),
        Subscribe(
            HandlerSpec("input", DeviceInput, consumer=ConsumerSpec("adm-input", "glasses.*.up.input"), admission=INPUTS),
            "on_input",
        ),
    ),
)


async def _service(url: str, run_service, recorder: Recorder, **limits: float) -> Service:
    async def build(_resources) -> Recorder:
        return recorder

    settings = ServiceSettings(nats_url=url, http_port=free_port(), http_host="127.0.0.1", **limits)
    return await run_service(Service(SURFACE, settings, build, directory=StaticDirectory(["flood", "calm"])))


def _limited(service: Service, handler: str, action: str) -> float:
    labels = {"service": "adm", "handler": handler, "action": action}
    return service.metrics.registry.get_sample_value("sightline_admission_limited_total", labels) or 0.0


async def _stored(js, stream: str, subject: str) -> list:
    sub = await js.subscribe(subject, stream=stream, config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL), ordered_consumer=True)
    got = []
    try:
        while True:
            try:
                got.append(await sub.next_msg(timeout=0.5))
            except nats.errors.TimeoutError:
                return got
    finally:
        await sub.unsubscribe()


def _frame(device: str, stream_id: str) -> AudioFrame:
    return AudioFrame(
        meta=new_meta(device, "glasses"),
        stream_id=stream_id,
        encoding=AudioEncoding.AUDIO_ENCODING_PCM_S16LE,
        sample_rate_hz=16_000,
        channels=1,
        data=b"\x00\x01" * 320,
    )


async def test_core_messages_over_the_rate_are_dropped_for_that_device_alone(nats_url, run_service):
    recorder = Recorder()
    service = await _service(nats_url, run_service, recorder, admission_audio_per_s=20.0, admission_audio_burst=10.0)
    nc = await nats.connect(nats_url)
    try:
        started = time.monotonic()
        for i in range(300):
            frame = _frame("flood", "f")
            await nc.publish("glasses.flood.up.audio", frame.SerializeToString(), headers=event_headers(frame))
            if i % 30 == 0:
                calm = _frame("calm", "c")
                await nc.publish("glasses.calm.up.audio", calm.SerializeToString(), headers=event_headers(calm))
        await nc.flush()
        deadline = time.monotonic() + 5
        while len(recorder.got) + _limited(service, "frame", "dropped") < 310 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        took = time.monotonic() - started
        flood = [g for g in recorder.got if g[1] == "flood"]
        assert [g[1] for g in recorder.got].count("calm") == 10, "the other device loses nothing"
        # 10 at once, then 20/s for as long as the flood lasted.
        assert 10 <= len(flood) <= 10 + 20 * took + 1, (len(flood), took)
        assert _limited(service, "frame", "dropped") == 300 - len(flood)
        await asyncio.sleep(0.3)
        errors = [ErrorEvent.FromString(m.data) for m in await _stored(nc.jetstream(), "ERRORS", "errors.adm.*")]
        assert [(e.code, e.handler, e.meta.device_id) for e in errors] == [(ErrorCode.ERROR_CODE_RATE_LIMITED, "frame", "flood")]
        assert "audio frames faster than 20/s (burst 10)" in errors[0].message
        assert errors[0].subject == "glasses.flood.up.audio"
    finally:
        await nc.close()


async def test_jetstream_messages_over_the_rate_are_delayed_then_past_the_bound_dead_lettered(nats_url, run_service):
    recorder = Recorder()
    limits = {"admission_input_per_s": 5.0, "admission_input_burst": 2.0, "admission_max_delay_s": 1.1, "admission_report_interval_s": 60}
    service = await _service(nats_url, run_service, recorder, **limits)
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    try:
        sent_at = time.monotonic()
        for i in range(12):
            event = DeviceInput(meta=new_meta("flood", "glasses"), text=TextInput(text=f"flood {i}"))
            await js.publish("glasses.flood.up.input", event.SerializeToString(), headers=event_headers(event))
        calm = DeviceInput(meta=new_meta("calm", "glasses"), text=TextInput(text="calm"))
        await js.publish("glasses.calm.up.input", calm.SerializeToString(), headers=event_headers(calm))
        deadline = time.monotonic() + 10
        while len(recorder.got) < 8 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.5)  # nothing more may come

        [(calm_at, _, _)] = [g for g in recorder.got if g[1] == "calm"]
        assert calm_at - sent_at < 0.5, "the calm device does not wait behind the flood"
        flood = [g for g in recorder.got if g[1] == "flood"]
        # 2 at once, 5 more spread at 5/s (booked slots 0.2 s apart, up to 1.1 s), never lost.
        assert len(flood) == 7, flood
        assert sorted(text for _, _, text in flood) == sorted(f"flood {i}" for i in range(7))
        late = sorted(at - sent_at for at, _, text in flood if text not in ("flood 0", "flood 1"))
        assert late[0] >= 0.15
        assert late[-1] >= 0.95
        assert all(b - a >= 0.1 for a, b in itertools.pairwise(late)), f"spread at the rate, not all at once: {late}"
        assert _limited(service, "input", "delayed") == 5
        assert _limited(service, "input", "refused") == 5

        dead = await _stored(js, "DEAD_LETTERS", "dlq.adm.input")
        assert len(dead) == 5
        assert {m.headers[DLQ_REASON] for m in dead} == {"rate_limited"}
        assert {m.headers[DLQ_SUBJECT] for m in dead} == {"glasses.flood.up.input"}
        assert sorted(DeviceInput.FromString(m.data).text.text for m in dead) == sorted(f"flood {i}" for i in range(7, 12))
        errors = [ErrorEvent.FromString(m.data) for m in await _stored(js, "ERRORS", "errors.adm.*")]
        assert [(e.code, e.meta.device_id) for e in errors] == [(ErrorCode.ERROR_CODE_RATE_LIMITED, "flood")], "one report per interval"
        assert "inputs faster than 5/s (burst 2)" in errors[0].message
    finally:
        await nc.close()

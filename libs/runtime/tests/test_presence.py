"""Service presence: the tracker's matching and expiry on a fake clock, and
announcer + tracker against a real nats-server (beats, a clean stop, a
killed instance, a readiness flip)."""

from __future__ import annotations

import asyncio
import time

import nats
import pytest
from sightline.v1.presence_pb2 import ServicePresence
from sightline_runtime.presence import PresenceAnnouncer, PresenceTracker, presence_subject


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def beat(service: str, instance: str, *subjects: str, ready: bool = True, interval_ms: int = 500, not_ready=()) -> ServicePresence:
    return ServicePresence(
        service=service, instance=instance, ready=ready, subjects=list(subjects), interval_ms=interval_ms, not_ready=list(not_ready)
    )


PARTITIONS_EVEN = [f"glasses.*.up.audio.{p}" for p in (0, 2, 4, 6)]
PARTITIONS_ODD = [f"glasses.*.up.audio.{p}" for p in (1, 3, 5, 7)]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def tracker(clock) -> PresenceTracker:
    return PresenceTracker(clock=clock)


def test_a_subject_is_served_when_a_ready_instance_subscribes_a_pattern_containing_it(tracker):
    tracker.observe(beat("asr", "asr-0", *PARTITIONS_EVEN))
    tracker.observe(beat("asr", "asr-1", *PARTITIONS_ODD))
    assert tracker.serves("glasses.a.up.audio.3", service="asr")
    assert tracker.serves("glasses.a.up.audio.4", service="asr")
    assert [i.instance for i in tracker.serving("glasses.a.up.audio.3")] == ["asr-1"]
    assert not tracker.serves("glasses.a.up.audio", service="asr"), "the unmapped subject is not a partition"
    assert not tracker.serves("glasses.a.up.audio.3", service="translation"), "another service does not count"
    # A wildcard question is answered by containment: all of partition 3, yes; every partition, no.
    assert tracker.serves("glasses.*.up.audio.3")
    assert not tracker.serves("glasses.*.up.audio.*")


@pytest.mark.parametrize(
    ("pattern", "subject", "served"),
    [
        ("asr.final.*", "asr.final.dev-1", True),
        ("asr.>", "asr.final.dev-1", True),
        ("asr.>", "asr", False),
        ("asr.final.dev-2", "asr.final.dev-1", False),
        ("asr.*", "asr.final.dev-1", False),
        (">", "anything.at.all", True),
    ],
)
def test_wildcards_match_as_nats_does(tracker, pattern, subject, served):
    tracker.observe(beat("svc", "svc-0", pattern))
    assert tracker.serves(subject) is served


def test_a_silent_instance_expires_after_three_of_its_intervals(tracker, clock):
    tracker.observe(beat("asr", "asr-0", "glasses.*.up.audio.*", interval_ms=500))
    before = tracker.generation
    clock.now += 1.5
    assert tracker.serves("glasses.a.up.audio.1"), "three intervals: still present"
    clock.now += 0.01
    assert not tracker.serves("glasses.a.up.audio.1")
    assert tracker.generation == before + 1
    assert tracker.instances() == []
    assert tracker.why_not("glasses.a.up.audio.1", service="asr") == "no asr instance is running"


def test_each_beat_renews_and_a_longer_interval_lasts_longer(tracker, clock):
    tracker.observe(beat("asr", "asr-0", "a.*", interval_ms=500))
    tracker.observe(beat("slow", "slow-0", "b.*", interval_ms=10_000))
    for _ in range(10):
        clock.now += 1.0
        tracker.observe(beat("asr", "asr-0", "a.*", interval_ms=500))
    assert tracker.serves("a.x")
    assert tracker.serves("b.x")
    clock.now += 20.1
    assert not tracker.serves("a.x")
    assert not tracker.serves("b.x")


def test_a_not_ready_beat_stops_serving_at_once_and_says_why(tracker):
    tracker.observe(beat("asr", "asr-0", "glasses.*.up.audio.*"))
    generation = tracker.generation
    tracker.observe(beat("asr", "asr-0", "glasses.*.up.audio.*", ready=False, not_ready=["device_registry"]))
    assert not tracker.serves("glasses.a.up.audio.2")
    assert tracker.generation == generation + 1
    assert tracker.why_not("glasses.a.up.audio.2", service="asr") == "asr-0 is not ready (device_registry)"
    tracker.observe(beat("asr", "asr-0", "glasses.*.up.audio.*"))
    assert tracker.serves("glasses.a.up.audio.2")


def test_an_unowned_partition_is_named(tracker):
    tracker.observe(beat("asr", "asr-0", *PARTITIONS_EVEN))
    assert tracker.why_not("glasses.a.up.audio.5", service="asr") == "no asr instance takes glasses.a.up.audio.5 (asr-0 run without it)"


def test_repeated_identical_beats_do_not_change_the_generation(tracker):
    tracker.observe(beat("asr", "asr-0", "x.*"))
    generation = tracker.generation
    for _ in range(5):
        assert tracker.observe(beat("asr", "asr-0", "x.*")) is False
    assert tracker.generation == generation
    assert tracker.observe(beat("asr", "asr-0", "x.*", "y.*")) is True


@pytest.mark.parametrize(
    ("subject", "data"),
    [
        ("presence.asr", b"\xff\xfe not protobuf"),
        ("presence.translation", beat("asr", "asr-0", "x.*").SerializeToString()),  # a beat for another service
        ("presence.asr", beat("asr", "bad name!", "x.*").SerializeToString()),
        ("presence.asr", beat("asr", "asr-0", *[f"s.{n}" for n in range(1001)]).SerializeToString()),
        ("presence.asr", b"\x0a" * 70_000),
    ],
)
def test_bad_beats_are_counted_and_ignored(tracker, subject, data):
    assert tracker.receive(subject, data) is False
    assert tracker.rejected == 1
    assert tracker.instances() == []


def test_absurd_intervals_are_clamped(tracker, clock):
    tracker.observe(beat("svc", "svc-0", "x.*", interval_ms=0))  # missing: the default 0.5 s
    tracker.observe(beat("big", "big-0", "y.*", interval_ms=4_000_000_000))
    clock.now += 1.6
    assert not tracker.serves("x.a")
    clock.now += 180.0
    assert not tracker.serves("y.a"), "at most 60 s x 3 without a beat"


def test_settled_only_after_listening_for_an_expiry_period(clock):
    tracker = PresenceTracker(object(), clock=clock)
    assert not tracker.settled
    tracker.started_at = clock.now
    clock.now += 1.0
    assert not tracker.settled
    clock.now += 0.5
    assert tracker.settled


def test_the_subject_names_the_service():
    assert presence_subject("asr") == "presence.asr"
    with pytest.raises(ValueError, match="invalid service name"):
        presence_subject("a.b")
    assert PresenceTracker(services=["asr", "translation"]).subjects == ("presence.asr", "presence.translation")
    assert PresenceTracker().subjects == ("presence.>",)


# --- against a real nats-server ---
class Checks:
    """A service's readiness checks, switchable by the test."""

    def __init__(self) -> None:
        self.values = {"broker": True, "engines": True}

    async def __call__(self) -> dict[str, bool]:
        return dict(self.values)


async def _until(predicate, timeout_s: float = 3.0) -> float:
    started = time.monotonic()
    async with asyncio.timeout(timeout_s):
        while not predicate():
            await asyncio.sleep(0.01)
    return time.monotonic() - started


async def test_beats_stop_and_expiry_over_a_real_server(nats_url):
    listener = await nats.connect(nats_url)
    speaker = await nats.connect(nats_url)
    tracker = await PresenceTracker(listener, services=["asr"]).start()
    checks = Checks()
    subscribed = ["glasses.*.up.audio.1", "glasses.*.up.audio.3"]
    announcer = PresenceAnnouncer(speaker, "asr", "asr-1", checks, lambda: subscribed, interval_s=0.2)
    try:
        announcer.start()
        await _until(lambda: tracker.serves("glasses.d.up.audio.3", service="asr"))
        [instance] = tracker.instances("asr")
        assert (instance.instance, instance.interval_s, instance.subjects) == ("asr-1", 0.2, tuple(subscribed))
        assert not tracker.serves("glasses.d.up.audio.2", service="asr")

        # A failing check: not ready within about one interval, and why.
        checks.values["engines"] = False
        took = await _until(lambda: not tracker.serves("glasses.d.up.audio.3"))
        assert took < 0.6
        assert tracker.why_not("glasses.d.up.audio.3", service="asr") == "asr-1 is not ready (engines)"
        checks.values["engines"] = True
        await _until(lambda: tracker.serves("glasses.d.up.audio.3"))

        # New subjects (a consumer attached later) are announced with the next beat.
        subscribed.append("asr.final.*")
        await _until(lambda: tracker.serves("asr.final.d"))

        # A clean stop says ready=false: gone at once, not after the expiry.
        await announcer.stop()
        took = await _until(lambda: not tracker.serves("glasses.d.up.audio.3"), timeout_s=0.5)
        assert took < 0.3
        assert tracker.why_not("glasses.d.up.audio.3", service="asr") == "asr-1 is not ready (stopping)"

        # A killed instance (its connection dies, no goodbye): expired after 3 intervals.
        again = PresenceAnnouncer(speaker, "asr", "asr-1", checks, lambda: subscribed, interval_s=0.2)
        again.start()
        await _until(lambda: tracker.serves("glasses.d.up.audio.3"))
        killed_at = time.monotonic()
        for task in again._tasks:
            task.cancel()
        await speaker.close()
        await _until(lambda: not tracker.serves("glasses.d.up.audio.3"), timeout_s=2.0)
        gone_after = time.monotonic() - killed_at
        assert 0.35 < gone_after < 0.8, gone_after
        assert tracker.instances("asr") == []
    finally:
        await tracker.stop()
        await listener.close()
        if not speaker.is_closed:
            await speaker.close()


async def test_a_tracker_of_one_service_hears_no_other(nats_url):
    nc = await nats.connect(nats_url)
    try:
        only_asr = await PresenceTracker(nc, services=["asr"]).start()
        everyone = await PresenceTracker(nc).start()
        checks = Checks()
        announcers = [
            PresenceAnnouncer(nc, "asr", "asr-0", checks, lambda: ["glasses.*.up.audio.*"], interval_s=0.1),
            PresenceAnnouncer(nc, "translation", "translation-0", checks, lambda: ["asr.final.*"], interval_s=0.1),
        ]
        for announcer in announcers:
            announcer.start()
        await _until(lambda: len(everyone.instances()) == 2)
        assert [i.service for i in only_asr.instances()] == ["asr"]
        assert not only_asr.serves("asr.final.d")
        assert everyone.serves("asr.final.d", service="translation")
        assert await everyone.wait_serving("asr.final.d", service="translation", timeout_s=0.1)
        assert not await everyone.wait_serving("asr.final.d", service="asr", timeout_s=0.2)
        for announcer in announcers:
            await announcer.stop()
        await only_asr.stop()
        await everyone.stop()
    finally:
        await nc.close()


async def test_an_announcer_whose_readiness_raises_says_not_ready(nats_url):
    nc = await nats.connect(nats_url)
    tracker = await PresenceTracker(nc).start()

    async def broken() -> dict[str, bool]:
        raise RuntimeError("check exploded")

    announcer = PresenceAnnouncer(nc, "svc", "svc-0", broken, lambda: ["x.*"], interval_s=0.1)
    try:
        announcer.start()
        await _until(lambda: tracker.instances("svc") != [])
        [instance] = tracker.instances("svc")
        assert (instance.ready, instance.not_ready) == (False, ("readiness",))
    finally:
        await announcer.stop()
        await tracker.stop()
        await nc.close()

"""Which devices are told that captions are unavailable, and when: the
overlay's domain logic over the runtime's real PresenceTracker, fed beats
by hand on a fake clock."""

from __future__ import annotations

import pytest
from sightline.v1.presence_pb2 import ServicePresence
from sightline_overlay.domain.availability import CaptionAvailability
from sightline_runtime.partitions import partition_of
from sightline_runtime.presence import PresenceTracker


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def audio_subject(device_id: str) -> str:
    return f"glasses.{device_id}.up.audio.{partition_of(device_id)}"


def asr_beat(instance: str, partitions: list[int] | None = None, *, ready: bool = True) -> ServicePresence:
    subjects = [f"glasses.*.up.audio.{p}" for p in partitions] if partitions is not None else ["glasses.*.up.audio.*"]
    return ServicePresence(service="asr", instance=instance, ready=ready, subjects=subjects, interval_ms=500)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def tracker(clock) -> PresenceTracker:
    tracker = PresenceTracker(services=["asr"], clock=clock)
    tracker.started_at = clock.now - 10  # listening for a while: settled
    return tracker


@pytest.fixture
def availability(tracker) -> CaptionAvailability:
    return CaptionAvailability(tracker, service="asr", audio_subject=audio_subject, window_s=60.0, max_devices=100)


def test_recent_devices_are_told_once_when_asr_goes_and_once_when_it_is_back(availability, tracker, clock):
    tracker.observe(asr_beat("asr-0"))
    for device in ("a", "b"):
        assert availability.seen(device, clock.now) is False
    assert availability.changes(clock.now) == []
    clock.now += 1.6  # no beat for more than 3 intervals: asr-0 is gone
    assert sorted(availability.changes(clock.now)) == [("a", False), ("b", False)]
    assert availability.unavailable("a")
    clock.now += 5
    assert availability.changes(clock.now) == [], "told once, not every round"
    assert availability.seen("a", clock.now) is False, "already told"
    tracker.observe(asr_beat("asr-1"))
    assert sorted(availability.changes(clock.now)) == [("a", True), ("b", True)]
    assert not availability.unavailable("a")
    assert availability.changes(clock.now) == []


def test_a_device_first_seen_while_asr_is_down_is_told_at_once(availability, tracker, clock):
    assert availability.changes(clock.now) == []  # nobody active yet
    assert availability.seen("a", clock.now) is True
    assert availability.unavailable("a")
    assert availability.changes(clock.now) == [], "not told twice"
    tracker.observe(asr_beat("asr-0"))
    assert availability.changes(clock.now) == [("a", True)]


def test_only_devices_whose_partition_lost_its_replica_are_told(availability, tracker, clock):
    tracker.observe(asr_beat("asr-0", [0, 2, 4, 6]))
    tracker.observe(asr_beat("asr-1", [1, 3, 5, 7]))
    devices = [f"dev-{n}" for n in range(40)]
    for device in devices:
        availability.seen(device, clock.now)
    tracker.observe(asr_beat("asr-1", [1, 3, 5, 7], ready=False))  # asr-1 is shutting down
    told = dict(availability.changes(clock.now))
    odd = {d for d in devices if partition_of(d) % 2 == 1}
    assert odd, "the sample covers odd partitions"
    assert set(told) == odd
    assert not any(told.values())


def test_devices_quiet_for_longer_than_the_window_are_not_told(availability, tracker, clock):
    tracker.observe(asr_beat("asr-0"))
    availability.seen("old", clock.now)
    clock.now += 59
    tracker.observe(asr_beat("asr-0"))
    availability.seen("recent", clock.now)
    clock.now += 2  # "old" is 61 s quiet; asr-0 stopped beating
    assert availability.changes(clock.now) == [("recent", False)]
    assert len(availability) == 1


def test_a_told_device_is_told_again_when_back_even_if_quiet_since(availability, tracker, clock):
    availability.seen("a", clock.now)  # told unavailable at once
    clock.now += 600  # long quiet: out of the window
    tracker.observe(asr_beat("asr-0"))
    assert availability.changes(clock.now) == [("a", True)], "its HUD must not keep a stale notice"


def test_nothing_is_declared_unavailable_before_presence_has_settled(clock):
    tracker = PresenceTracker(services=["asr"], clock=clock)
    tracker.started_at = clock.now  # just subscribed: beats may not have arrived yet
    availability = CaptionAvailability(tracker, service="asr", audio_subject=audio_subject, window_s=60.0, max_devices=100)
    assert availability.seen("a", clock.now) is False
    assert availability.changes(clock.now) == []
    clock.now += 1.5
    assert availability.changes(clock.now) == [("a", False)], "settled, still nobody: now it is said"


def test_state_is_bounded(tracker, clock):
    availability = CaptionAvailability(tracker, service="asr", audio_subject=audio_subject, window_s=60.0, max_devices=3)
    for n in range(10):
        availability.seen(f"d{n}", clock.now)
    assert len(availability) == 3
    assert sum(availability.unavailable(f"d{n}") for n in range(10)) <= 3

"""The notification policy, pure: validation, duplicates, per-source rate,
what holds a notification back, the unread list; on an injected clock."""

from __future__ import annotations

import itertools
import re
from types import SimpleNamespace

import pytest
from sightline_assistant.domain.notifications import (
    DUPLICATE,
    HELD,
    LOW,
    NORMAL,
    SHOWN,
    URGENT,
    DeviceContext,
    Incoming,
    NotificationInvalid,
    NotificationLimits,
    NotificationPolicy,
    NotificationTooLarge,
    RateLimited,
    delivery_for,
    validate,
)
from sightline_assistant.notifications import NotificationConfig

LIMITS = NotificationLimits()
QUIET = DeviceContext()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def policy(clock: Clock, **limits: float) -> NotificationPolicy:
    ids = (f"n{i}" for i in itertools.count(1))
    return NotificationPolicy(NotificationLimits(**limits), clock, lambda: next(ids))


def incoming(title: str = "Build failed", *, key: str = "", priority: int = NORMAL) -> Incoming:
    return validate(title, "main is red", priority, key, LIMITS)


def test_a_valid_notification_is_trimmed_and_defaults_to_normal() -> None:
    assert validate("  Train delayed ", "Line 2\n\tby 10 min ", 0, " k1 ", LIMITS) == Incoming(
        "Train delayed", "Line 2\n\tby 10 min", NORMAL, "k1"
    )


def test_a_10000_character_body_is_refused_whole_with_its_length_and_the_limit() -> None:
    with pytest.raises(NotificationTooLarge) as refused:
        validate("Long", "x" * 10_000, NORMAL, "", LIMITS)
    assert str(refused.value) == ("body has 10000 characters, at most 2000 are accepted: shorten it or split it (nothing was delivered)")
    # At the limit it is taken as sent, not cut.
    assert validate("Long", "x" * 2000, NORMAL, "", LIMITS).body == "x" * 2000


@pytest.mark.parametrize(
    ("title", "body", "priority", "key", "message"),
    [
        ("", "body", NORMAL, "", "title is required"),
        ("   ", "body", NORMAL, "", "title is required"),
        ("two\nlines", "", NORMAL, "", "title contains the control character U+000A (one line: no line breaks)"),
        ("ok", "bell\x07", NORMAL, "", "body contains the control character U+0007"),
        ("t" * 121, "", NORMAL, "", "title has 121 characters, at most 120"),
        ("ok", "", NORMAL, "k" * 129, "dedup_key has 129 characters, at most 128"),
        ("ok", "", 9, "", "unknown priority 9: low, normal or urgent"),
    ],
)
def test_bad_fields_are_refused_with_what_is_wrong(title: str, body: str, priority: int, key: str, message: str) -> None:
    with pytest.raises(NotificationInvalid, match=re.escape(message)):
        validate(title, body, priority, key, LIMITS)


@pytest.mark.parametrize(
    ("context", "reason"),
    [
        (DeviceContext(do_not_disturb=True), "do-not-disturb"),
        (DeviceContext(privacy_mode=True), "privacy mode"),
        (DeviceContext(navigating=True), "navigation"),
    ],
)
def test_do_not_disturb_privacy_and_navigation_hold_all_but_urgent(context: DeviceContext, reason: str) -> None:
    assert delivery_for(NORMAL, context) == (HELD, reason)
    assert delivery_for(LOW, context) == (HELD, reason)
    assert delivery_for(URGENT, context) == (SHOWN, "")
    assert delivery_for(NORMAL, QUIET) == (SHOWN, "")


def test_a_repeated_dedup_key_is_a_duplicate_within_the_window_only() -> None:
    clock = Clock()
    rules = policy(clock, dedup_window_s=60)
    first = rules.decide("dev-1", "ci", incoming(key="build-42"), QUIET)
    assert (first.notification_id, first.delivery) == ("n1", SHOWN)
    clock.now += 59
    assert rules.decide("dev-1", "ci", incoming(key="build-42"), QUIET).delivery == DUPLICATE
    assert rules.decide("dev-1", "ci", incoming(key="build-42"), QUIET).notification_id == "n1"
    # Another source, another device, no key: not repeats.
    assert rules.decide("dev-1", "phone", incoming(key="build-42"), QUIET).delivery == SHOWN
    assert rules.decide("dev-2", "ci", incoming(key="build-42"), QUIET).delivery == SHOWN
    assert [rules.decide("dev-1", "ci", incoming(), QUIET).delivery for _ in range(2)] == [SHOWN, SHOWN]
    clock.now += 2
    assert rules.decide("dev-1", "ci", incoming(key="build-42"), QUIET).delivery == SHOWN
    # A duplicate is not unread twice.
    assert [u.notification_id for u in rules.unread("dev-1")] == ["n1", "n2", "n4", "n5", "n6"]


def test_each_source_has_its_own_token_bucket() -> None:
    clock = Clock()
    rules = policy(clock, source_per_s=0.5, source_burst=3)
    assert [rules.decide("dev-1", "chatty", incoming(), QUIET).delivery for _ in range(3)] == [SHOWN] * 3
    with pytest.raises(RateLimited) as limited:
        rules.decide("dev-1", "chatty", incoming(), QUIET)
    assert (limited.value.source, limited.value.retry_after_s) == ("chatty", 2.0)
    # Another source is not slowed by it, and a repeat of a key it sent is answered even when over the rate.
    assert rules.decide("dev-1", "quiet", incoming(), QUIET).delivery == SHOWN
    clock.now += 2.0
    sent = rules.decide("dev-1", "chatty", incoming(key="k"), QUIET)
    assert rules.decide("dev-1", "chatty", incoming(key="k"), QUIET) == type(sent)(sent.notification_id, DUPLICATE)
    with pytest.raises(RateLimited):
        rules.decide("dev-1", "chatty", incoming(), QUIET)


def test_held_notifications_stay_unread_and_reading_clears_them() -> None:
    clock = Clock()
    rules = policy(clock)
    held = rules.decide("dev-1", "phone", incoming("Lunch?"), DeviceContext(do_not_disturb=True))
    assert (held.delivery, held.held_because) == (HELD, "do-not-disturb")
    urgent = rules.decide("dev-1", "phone", incoming("Door open", priority=URGENT), DeviceContext(do_not_disturb=True))
    assert urgent.delivery == SHOWN
    assert [u.title for u in rules.held("dev-1")] == ["Lunch?"]
    assert [(u.title, u.delivery) for u in rules.unread("dev-1")] == [("Lunch?", HELD), ("Door open", SHOWN)]
    assert [u.title for u in rules.mark_read("dev-1", {urgent.notification_id})] == ["Door open"]
    assert [u.title for u in rules.mark_read("dev-1")] == ["Lunch?"]
    assert rules.unread("dev-1") == []
    assert rules.mark_read("dev-9") == []


def test_the_unread_list_keeps_the_latest_per_device() -> None:
    rules = policy(Clock(), unread_per_device=3, source_per_s=100, source_burst=100)
    for i in range(5):
        rules.decide("dev-1", "phone", incoming(f"m{i}"), QUIET)
    assert [u.title for u in rules.unread("dev-1")] == ["m2", "m3", "m4"]


def test_a_retracted_notification_can_be_sent_again() -> None:
    rules = policy(Clock())
    first = rules.decide("dev-1", "ci", incoming(key="k"), QUIET)
    rules.retract("dev-1", first.notification_id)
    again = rules.decide("dev-1", "ci", incoming(key="k"), QUIET)
    assert (again.delivery, [u.notification_id for u in rules.unread("dev-1")]) == (SHOWN, [again.notification_id])


def test_limits_that_admit_nothing_are_refused() -> None:
    with pytest.raises(ValueError, match="admits nothing"):
        NotificationLimits(source_per_s=0)
    with pytest.raises(ValueError, match="at least 1"):
        NotificationLimits(body_max_chars=0)


def test_the_config_reads_the_services_notify_settings() -> None:
    settings = SimpleNamespace(notify_http_port=8090, notify_grpc_port=50062, notify_body_max_chars=500, notify_source_burst=3.0)
    config = NotificationConfig.from_settings(settings)
    assert (config.http_port, config.grpc_port, config.host, config.max_request_bytes) == (8090, 50062, "0.0.0.0", 64 * 1024)
    assert config.limits == NotificationLimits(body_max_chars=500, source_burst=3.0)

"""Reminders as values: next firings across DST, what may be set."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sightline.v1.assistant_pb2 import Recurrence
from sightline_assistant.domain.reminders import (
    ReminderLimits,
    ReminderRefused,
    check_new,
    local_label,
    next_due,
    recurrence_from_slot,
    rfc3339_ms,
    time_zone,
)

NOW = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
LIMITS = ReminderLimits()


def test_daily_keeps_the_local_wall_time_across_a_dst_change() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    # 08:00 local on the Saturday before DST ends (UTC+2), then on Sunday (UTC+1).
    due = datetime(2026, 10, 24, 8, 0, tzinfo=berlin).astimezone(UTC)
    following = next_due(due, Recurrence.RECURRENCE_DAILY, berlin, after=due)
    assert following is not None
    assert following.astimezone(berlin).hour == 8
    assert following - due == timedelta(hours=25)


def test_weekly_is_seven_local_days_later() -> None:
    shanghai = ZoneInfo("Asia/Shanghai")
    due = datetime(2026, 12, 7, 9, 0, tzinfo=shanghai).astimezone(UTC)
    following = next_due(due, Recurrence.RECURRENCE_WEEKLY, shanghai, after=due)
    assert following == due + timedelta(days=7)


def test_a_recurring_reminder_fired_late_skips_to_the_next_future_firing() -> None:
    due = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    # The hub was down for two days: the next firing is after now, not the missed ones.
    following = next_due(due, Recurrence.RECURRENCE_DAILY, ZoneInfo("UTC"), after=NOW)
    assert following == datetime(2026, 12, 4, 8, 0, tzinfo=UTC)


def test_a_one_off_has_no_next_firing() -> None:
    assert next_due(NOW, Recurrence.RECURRENCE_NONE, ZoneInfo("UTC"), after=NOW) is None


def test_a_time_in_the_past_is_refused() -> None:
    with pytest.raises(ReminderRefused, match="already passed"):
        check_new("call mum", NOW - timedelta(minutes=1), NOW, LIMITS)


def test_a_moment_ago_counts_as_now() -> None:
    assert check_new("call mum", NOW - timedelta(seconds=2), NOW, LIMITS) == NOW


@pytest.mark.parametrize(
    ("text", "due", "reason"),
    [
        ("", NOW + timedelta(hours=1), "something to remind"),
        ("x" * 501, NOW + timedelta(hours=1), "at most 500"),
        ("call mum", NOW + timedelta(days=400), "366 days ahead"),
    ],
)
def test_what_cannot_be_set(text: str, due: datetime, reason: str) -> None:
    with pytest.raises(ReminderRefused, match=reason):
        check_new(text, due, NOW, LIMITS)


def test_naive_times_are_a_programming_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        check_new("x", datetime(2026, 12, 3, 11, 0), NOW, LIMITS)


def test_unknown_time_zones_are_refused_not_guessed() -> None:
    assert time_zone("") == ZoneInfo("UTC")
    assert time_zone("Asia/Shanghai") == ZoneInfo("Asia/Shanghai")
    for bad in ("Mars/Olympus", "../../etc/passwd", "Asia/Shang hai"):
        with pytest.raises(ReminderRefused, match="unknown time zone"):
            time_zone(bad)


def test_recurrence_slots() -> None:
    assert recurrence_from_slot("daily") == Recurrence.RECURRENCE_DAILY
    assert recurrence_from_slot("Weekly") == Recurrence.RECURRENCE_WEEKLY
    assert recurrence_from_slot("") == Recurrence.RECURRENCE_NONE
    with pytest.raises(ReminderRefused):
        recurrence_from_slot("hourly")


def test_schedule_times_are_utc_with_milliseconds() -> None:
    assert rfc3339_ms(datetime(2026, 12, 3, 18, 0, 0, 250_000, tzinfo=ZoneInfo("Asia/Shanghai"))) == "2026-12-03T10:00:00.250Z"


def test_labels_read_naturally() -> None:
    zone = ZoneInfo("UTC")
    assert local_label(NOW + timedelta(hours=8), zone, NOW) == "18:00"
    assert local_label(NOW + timedelta(days=1), zone, NOW) == "Fri 10:00"
    assert local_label(NOW + timedelta(days=30), zone, NOW) == "2 Jan 10:00"

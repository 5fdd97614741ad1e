"""Reminders as values: when one is due next, and what may be set.

A recurring reminder keeps its wall-clock time in the wearer's time zone:
"every day at 8" fires at 08:00 local on both sides of a daylight-saving
change, so the next firing is computed from the local date, not by adding
24 hours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sightline.v1.assistant_pb2 import Recurrence


class ReminderRefused(ValueError):
    """The reminder cannot be set; the message says why, for the wearer."""


@dataclass(frozen=True)
class ReminderLimits:
    max_text_chars: int = 500
    # Further ahead than this is almost certainly a misheard time.
    max_ahead: timedelta = timedelta(days=366)
    # A time this far in the past still counts as "now" (speech takes a moment).
    past_grace: timedelta = timedelta(seconds=5)


def time_zone(name: str) -> ZoneInfo:
    """The device's zone; empty means UTC. An unknown name is refused, never guessed."""
    if not name:
        return ZoneInfo("UTC")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ReminderRefused(f"unknown time zone {name[:64]!r}") from None


def recurrence_from_slot(value: str) -> Recurrence.ValueType:
    match value.strip().lower():
        case "" | "none":
            return Recurrence.RECURRENCE_NONE
        case "daily":
            return Recurrence.RECURRENCE_DAILY
        case "weekly":
            return Recurrence.RECURRENCE_WEEKLY
    raise ReminderRefused(f"unknown recurrence {value[:32]!r}")


def check_new(text: str, due_at: datetime, now: datetime, limits: ReminderLimits) -> datetime:
    """The due time to schedule, or ReminderRefused. Both datetimes are aware."""
    if due_at.tzinfo is None or now.tzinfo is None:
        raise ValueError("due_at and now must be timezone-aware")
    if not text.strip():
        raise ReminderRefused("a reminder needs something to remind you of")
    if len(text) > limits.max_text_chars:
        raise ReminderRefused(f"a reminder's text is at most {limits.max_text_chars} characters")
    if due_at < now - limits.past_grace:
        raise ReminderRefused("that time has already passed")
    if due_at - now > limits.max_ahead:
        raise ReminderRefused(f"reminders can be set at most {limits.max_ahead.days} days ahead")
    return max(due_at, now).astimezone(UTC)


def next_due(due_at: datetime, recurrence: Recurrence.ValueType, zone: ZoneInfo, *, after: datetime) -> datetime | None:
    """The first firing of a recurring reminder strictly after `after`
    (normally the firing just done), at the same local wall-clock time; None
    for a one-off. A local time that does not exist on the new day (skipped
    by a DST change) moves forward by the gap, as zoneinfo folds it."""
    if recurrence == Recurrence.RECURRENCE_DAILY:
        step = timedelta(days=1)
    elif recurrence == Recurrence.RECURRENCE_WEEKLY:
        step = timedelta(days=7)
    else:
        return None
    local = due_at.astimezone(zone)
    wall = local.replace(tzinfo=None)
    candidate = wall
    while True:
        candidate = candidate + step
        # Attach the zone to the naive wall time: its UTC offset is the new day's.
        aware = candidate.replace(tzinfo=zone)
        # Round-trip through UTC normalises a non-existent local time.
        aware = aware.astimezone(UTC)
        if aware > after:
            return aware


def rfc3339_ms(moment: datetime) -> str:
    """The form the server's @at schedule takes (UTC, milliseconds)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def local_label(moment: datetime, zone: ZoneInfo, now: datetime) -> str:
    """ "18:00" today, "Tue 09:00" within a week, else "3 Dec 09:00"."""
    local = moment.astimezone(zone)
    today = now.astimezone(zone).date()
    if local.date() == today:
        return local.strftime("%H:%M")
    if timedelta(0) < local.date() - today < timedelta(days=7):
        return local.strftime("%a %H:%M")
    return f"{local.day} {local.strftime('%b %H:%M')}"

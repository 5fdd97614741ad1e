"""A device's schedule from an iCalendar (.ics) file, and what to show of it.

parse_ics turns the bytes of an export (Google Calendar, Outlook, Apple…)
into CalendarEntry values, one per occurrence within a window:
- times with a TZID (the file's VTIMEZONE or an IANA name), UTC times, and
  floating times (no zone: the device's zone, as a wall clock would read them);
- all-day events (DTSTART;VALUE=DATE): midnight to midnight in the device's zone;
- RRULE/RDATE/EXDATE and moved or cancelled occurrences (recurring-ical-events),
  expanded from the start of the device's day for `window_days`;
- cancelled events are skipped (and their UID reported, so an import removes them).

A file that is not iCalendar at all is a CalendarFileError naming the line
and the reason, before anything is stored; an oversized one is refused
unread (CalendarTooLarge). An entry that can't be read (no start, a broken
date, a bad RRULE) is skipped with a warning that names it, never dropped
silently. Pure: `now` and the zone are given, nothing is stored here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events
import x_wr_timezone
from sightline.v1.assistant_pb2 import CalendarEvent

DEFAULT_MAX_BYTES = 1024 * 1024
DEFAULT_WINDOW_DAYS = 60
DEFAULT_MAX_EVENTS = 5000
# Sub-hourly rules would expand to tens of thousands of occurrences a day.
_REFUSED_FREQ = {"SECONDLY", "MINUTELY"}
# name *(";" param) ":" value ('_' and '.' allowed: some exporters' X- names have them),
# once quoted parameter values (which may hold ':' or ';') are taken out.
_CONTENT_LINE = re.compile(r"[A-Za-z0-9_.-]+(;[A-Za-z0-9_-]+=[^:]*)?:")
_QUOTED = re.compile(r'"[^"]*"')


class CalendarFileError(ValueError):
    """The file is not a readable iCalendar file; nothing of it was used."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        super().__init__(f"line {line}: {reason}" if line else reason)
        self.reason = reason
        self.line = line


class CalendarTooLarge(CalendarFileError):
    pass


@dataclass(frozen=True)
class CalendarEntry:
    """One occurrence of an event. event_uid is the UID, with the occurrence's
    recurrence id for a recurring event ("uid#20261207T010000Z"); base_uid the UID alone."""

    event_uid: str
    base_uid: str
    summary: str
    starts_at: dt.datetime  # aware, UTC
    ends_at: dt.datetime  # aware, UTC; > starts_at
    location: str = ""
    all_day: bool = False

    def to_proto(self) -> CalendarEvent:
        event = CalendarEvent(event_uid=self.event_uid, summary=self.summary, location=self.location, all_day=self.all_day)
        event.starts_at.FromDatetime(self.starts_at)
        event.ends_at.FromDatetime(self.ends_at)
        return event


@dataclass(frozen=True)
class ParsedCalendar:
    entries: tuple[CalendarEntry, ...]
    # UIDs of whole events the file cancels: a merge removes what was stored of them.
    cancelled_uids: frozenset[str] = frozenset()
    # Events (not occurrences) left out: cancelled, unreadable, over the limit.
    skipped: int = 0
    warnings: tuple[str, ...] = field(default=())


def parse_ics(
    data: bytes,
    *,
    zone: ZoneInfo,
    now: dt.datetime,
    window_days: int = DEFAULT_WINDOW_DAYS,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_events: int = DEFAULT_MAX_EVENTS,
) -> ParsedCalendar:
    """The occurrences of `data`'s events that overlap [start of today in
    `zone`, + window_days). CalendarFileError / CalendarTooLarge for a file
    that can't be used at all."""
    if now.tzinfo is None:
        raise ValueError("parse_ics takes an aware now")
    if len(data) > max_bytes:
        raise CalendarTooLarge(f"the file is {len(data):,} bytes; the limit is {max_bytes:,}")
    text = _decode(data)
    check_structure(text)
    try:
        calendar = icalendar.Calendar.from_ical(text)
    except (ValueError, KeyError, TypeError) as exc:
        raise CalendarFileError(f"not a readable iCalendar file: {exc}") from None
    try:
        # Google's X-WR-TIMEZONE: times meant in the calendar's zone, made standard RFC 5545.
        calendar = x_wr_timezone.to_standard(calendar)
    except (ValueError, KeyError, TypeError) as exc:
        raise CalendarFileError(f"unreadable X-WR-TIMEZONE: {exc}") from None

    start = dt.datetime.combine(now.astimezone(zone).date(), dt.time(), zone)
    end = start + dt.timedelta(days=window_days)
    return _expand(calendar, zone, start, end, max_events)


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise CalendarFileError(f"not UTF-8 text (byte {exc.start})", line) from None


def check_structure(text: str) -> None:
    """Every content line is `NAME[;PARAMS]:VALUE` and BEGIN/END nest, within
    one VCALENDAR: what icalendar would also refuse, but with the line number."""
    stack: list[tuple[str, int]] = []
    seen_calendar = False
    for number, line in _unfolded(text):
        if not _CONTENT_LINE.match(_QUOTED.sub('""', line)):
            raise CalendarFileError(f"not an iCalendar content line (NAME:VALUE): {line[:60]!r}", number)
        name, _, value = line.partition(":")
        name = name.split(";", 1)[0].upper()
        value = value.strip().upper()
        if not stack and seen_calendar:
            raise CalendarFileError("content after END:VCALENDAR (one calendar per file)", number)
        if not stack and not (name == "BEGIN" and value == "VCALENDAR"):
            raise CalendarFileError("the file does not start with BEGIN:VCALENDAR", number)
        if name == "BEGIN":
            stack.append((value, number))
            seen_calendar = True
        elif name == "END":
            if not stack or stack[-1][0] != value:
                opened = f"BEGIN:{stack[-1][0]} of line {stack[-1][1]}" if stack else "nothing"
                raise CalendarFileError(f"END:{value} closes {opened}", number)
            stack.pop()
    if stack:
        component, number = stack[-1]
        raise CalendarFileError(f"BEGIN:{component} is never closed (the file is cut short?)", number)
    if not seen_calendar:
        raise CalendarFileError("the file is empty: no BEGIN:VCALENDAR")


def _unfolded(text: str) -> Iterable[tuple[int, str]]:
    """(first physical line number, logical line): RFC 5545 folding undone, blank lines left out."""
    current: str | None = None
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if raw[:1] in (" ", "\t") and current is not None:
            current += raw[1:]
            continue
        if current is not None and current.strip():
            yield start, current
        current, start = raw, number
    if current is not None and current.strip():
        yield start, current


def _expand(calendar: icalendar.Calendar, zone: ZoneInfo, start: dt.datetime, end: dt.datetime, max_events: int) -> ParsedCalendar:
    timezones = list(calendar.walk("VTIMEZONE"))
    series: dict[str, list[icalendar.Event]] = {}
    for event in calendar.walk("VEVENT"):
        series.setdefault(_uid(event), []).append(event)

    entries: list[CalendarEntry] = []
    cancelled: set[str] = set()
    warnings: list[str] = []
    skipped = 0
    for uid, components in series.items():
        label = _label(uid, components)
        master = next((c for c in components if "RECURRENCE-ID" not in c), components[0])
        if str(master.get("STATUS", "")).upper() == "CANCELLED" and "RECURRENCE-ID" not in master:
            cancelled.add(uid)
            skipped += 1
            warnings.append(f"{label}: cancelled, not loaded")
            continue
        if problem := _unreadable(components):
            skipped += 1
            warnings.append(f"{label}: skipped, {problem}")
            continue
        if len(entries) >= max_events:
            skipped += 1
            warnings.append(f"{label}: skipped, the import is limited to {max_events} occurrences")
            continue
        try:
            occurrences = _occurrences(uid, components, timezones, zone, start, end, max_events - len(entries))
        except Exception as exc:  # noqa: BLE001 - any failure of one event's data skips that event, with its reason
            skipped += 1
            warnings.append(f"{label}: skipped, {type(exc).__name__}: {exc}")
            continue
        entries.extend(occurrences)
        if occurrences and (unknown := _unknown_zones(components)):
            warnings.append(f"{label}: unknown time zone {unknown!r}, read as the device's ({zone.key})")
        if len(entries) >= max_events:
            warnings.append(f"{label}: only its first occurrences loaded, the import is limited to {max_events} occurrences")
    entries.sort(key=lambda e: (e.starts_at, e.event_uid))
    return ParsedCalendar(tuple(entries), frozenset(cancelled), skipped, tuple(warnings))


def _uid(event: icalendar.Event) -> str:
    uid = str(event.get("UID", "")).strip()
    if uid:
        return uid[:512]
    # RFC 5545 requires a UID; without one, a stable stand-in from what the event is, so a re-import merges.
    digest = hashlib.sha256(f"{event.get('SUMMARY', '')}|{event.get('DTSTART') and event['DTSTART'].to_ical()!r}".encode())
    return "no-uid-" + digest.hexdigest()[:24]


def _label(uid: str, components: Sequence[icalendar.Event]) -> str:
    summary = str(components[0].get("SUMMARY", "")).strip()
    return f"event {summary[:60]!r} ({uid[:80]})" if summary else f"event {uid[:80]}"


def _unreadable(components: Sequence[icalendar.Event]) -> str:
    for component in components:
        if "DTSTART" not in component:
            return "it has no DTSTART"
        # icalendar keeps a property it can't parse as "broken" and lists why.
        for name, reason in getattr(component, "errors", []):
            if name in ("DTSTART", "DTEND", "DURATION", "RRULE", "RDATE", "EXDATE", "RECURRENCE-ID"):
                return f"unreadable {name}: {reason}"
        begins, ends = component["DTSTART"].dt, component["DTEND"].dt if "DTEND" in component else None
        if ends is not None and type(begins) is type(ends) and _comparable(ends) < _comparable(begins):
            return "its DTEND is before its DTSTART"
        for rule in component.get("RRULE", []) if isinstance(component.get("RRULE"), list) else [component.get("RRULE")]:
            freq = rule.get("FREQ", [""])[0] if rule else ""
            if str(freq).upper() in _REFUSED_FREQ:
                return f"RRULE FREQ={freq} repeats more often than hourly"
    return ""


def _comparable(value: dt.date | dt.datetime) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        return dt.datetime.combine(value, dt.time(), dt.UTC)
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _unknown_zones(components: Sequence[icalendar.Event]) -> str:
    """A TZID neither the file's VTIMEZONEs nor the IANA (or Windows) names know:
    icalendar leaves such a time floating, so it reads in the device's zone."""
    for component in components:
        for name in ("DTSTART", "DTEND"):
            prop = component.get(name)
            tzid = prop.params.get("TZID") if prop is not None else None
            if tzid and isinstance(prop.dt, dt.datetime) and prop.dt.tzinfo is None:
                return str(tzid)
    return ""


def _occurrences(
    uid: str,
    components: Sequence[icalendar.Event],
    timezones: Sequence[icalendar.Timezone],
    zone: ZoneInfo,
    start: dt.datetime,
    end: dt.datetime,
    room: int,
) -> list[CalendarEntry]:
    one = icalendar.Calendar()
    for timezone in timezones:
        one.add_component(timezone)
    for component in components:
        one.add_component(component)
    recurring = any(key in c for c in components for key in ("RRULE", "RDATE", "RECURRENCE-ID"))
    found: list[CalendarEntry] = []
    # after() yields in time order and lazily: an endless RRULE stops at the window's end.
    for occurrence in recurring_ical_events.of(one).after(start):
        begins, ends, all_day = _span(occurrence, zone)
        if begins >= end.astimezone(dt.UTC):
            break
        if str(occurrence.get("STATUS", "")).upper() == "CANCELLED":
            continue  # one cancelled occurrence of a series
        if ends <= start.astimezone(dt.UTC):
            continue
        event_uid = f"{uid}#{_recurrence_key(occurrence, begins)}" if recurring else uid
        found.append(
            CalendarEntry(
                event_uid=event_uid,
                base_uid=uid,
                summary=str(occurrence.get("SUMMARY", "")).strip(),
                starts_at=begins,
                ends_at=ends,
                location=str(occurrence.get("LOCATION", "")).strip(),
                all_day=all_day,
            )
        )
        if len(found) >= room:
            break
    return found


def _span(occurrence: icalendar.Event, zone: ZoneInfo) -> tuple[dt.datetime, dt.datetime, bool]:
    begins = occurrence["DTSTART"].dt
    ends = occurrence["DTEND"].dt if "DTEND" in occurrence else None
    all_day = not isinstance(begins, dt.datetime)
    start = _instant(begins, zone)
    # No DTEND: an all-day event lasts its day, a timed one is an instant (RFC 5545 3.6.1).
    finish = _instant(ends, zone) if ends is not None else start + (dt.timedelta(days=1) if all_day else dt.timedelta())
    if finish <= start:
        # Shown on the HUD as starting then; a zero-length span still needs an end after its start to be found.
        finish = start + (dt.timedelta(days=1) if all_day else dt.timedelta(minutes=1))
    return start, finish, all_day


def _instant(value: dt.date | dt.datetime, zone: ZoneInfo) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        return dt.datetime.combine(value, dt.time(), zone).astimezone(dt.UTC)
    if value.tzinfo is None:
        return value.replace(tzinfo=zone).astimezone(dt.UTC)  # floating: the device's wall clock
    return value.astimezone(dt.UTC)


def _recurrence_key(occurrence: icalendar.Event, begins: dt.datetime) -> str:
    """The occurrence's original slot (its RECURRENCE-ID, kept when it was moved), in UTC."""
    recurrence = occurrence.get("RECURRENCE-ID")
    value = recurrence.dt if recurrence is not None else begins
    if not isinstance(value, dt.datetime):
        return value.strftime("%Y%m%d")
    if value.tzinfo is None:
        return value.strftime("%Y%m%dT%H%M%S")
    return value.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


# --- what to show: pure selections over a device's entries ---


def day_bounds(now: dt.datetime, zone: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of `now`'s day in `zone`, in UTC (23 or 25 hours across a DST change)."""
    day = now.astimezone(zone).date()
    begin = dt.datetime.combine(day, dt.time(), zone)
    finish = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), zone)
    return begin.astimezone(dt.UTC), finish.astimezone(dt.UTC)


def todays_schedule(entries: Iterable[CalendarEntry], now: dt.datetime, zone: ZoneInfo) -> list[CalendarEntry]:
    """Everything on today's calendar, already over or not: all-day events first, then by start."""
    begin, finish = day_bounds(now, zone)
    today = [e for e in entries if e.starts_at < finish and e.ends_at > begin]
    return sorted(today, key=lambda e: (not e.all_day, e.starts_at, e.event_uid))


def upcoming(entries: Iterable[CalendarEntry], now: dt.datetime, *, limit: int | None = None) -> list[CalendarEntry]:
    """Timed events not over yet (the one under way first), in start order; all-day events are no 'next'."""
    ahead = sorted((e for e in entries if not e.all_day and e.ends_at > now), key=lambda e: (e.starts_at, e.event_uid))
    return ahead if limit is None else ahead[:limit]


def next_event(entries: Iterable[CalendarEntry], now: dt.datetime) -> CalendarEntry | None:
    """The next timed event that has not started yet."""
    later = [e for e in entries if not e.all_day and e.starts_at >= now]
    return min(later, key=lambda e: (e.starts_at, e.event_uid), default=None)

"""Reading .ics files shaped like real exports (tests/data), and what to show of a schedule."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sightline_assistant.domain.calendar import (
    CalendarEntry,
    CalendarFileError,
    CalendarTooLarge,
    day_bounds,
    next_event,
    parse_ics,
    todays_schedule,
    upcoming,
)

DATA = Path(__file__).parent / "data"
SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
# Thursday 3 December 2026, 16:00 in Shanghai.
NOW = dt.datetime(2026, 12, 3, 8, 0, tzinfo=dt.UTC)


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def read(name: str, zone: ZoneInfo = SHANGHAI, **limits: int):
    return parse_ics((DATA / name).read_bytes(), zone=zone, now=NOW, **limits)


def test_a_google_export_with_time_zones_a_weekly_rule_an_exception_and_a_moved_occurrence() -> None:
    parsed = read("google_work.ics")
    standup = [e for e in parsed.entries if e.base_uid == "6b1vq9c0q2l4h7o3tq8m2s5k1a@google.com"]
    # Mondays and Wednesdays 09:30 Shanghai until the end of December; Wednesday the 9th is an EXDATE.
    assert [e.starts_at for e in standup] == [
        utc(2026, 12, 7, 1, 30),
        utc(2026, 12, 14, 6, 0),  # moved to 14:00 by its RECURRENCE-ID override
        utc(2026, 12, 16, 1, 30),
        utc(2026, 12, 21, 1, 30),
        utc(2026, 12, 23, 1, 30),
        utc(2026, 12, 28, 1, 30),
        utc(2026, 12, 30, 1, 30),
    ]
    moved = standup[1]
    assert moved.summary == "Team standup (moved)"
    # The occurrence keeps its original slot as its id, so a re-import finds the same row.
    assert moved.event_uid == "6b1vq9c0q2l4h7o3tq8m2s5k1a@google.com#20261214T013000Z"
    assert len({e.event_uid for e in standup}) == len(standup)
    by_summary = {e.summary: e for e in parsed.entries}
    # UTC, with an escaped comma in the location.
    dentist = by_summary["Dentist"]
    assert (dentist.starts_at, dentist.ends_at, dentist.location) == (
        utc(2026, 12, 4, 2),
        utc(2026, 12, 4, 3),
        "Room 3, Building B, 88 Nanjing Rd",
    )
    # TZID=America/New_York from its VTIMEZONE: 20:00 EST is 01:00 UTC the next day.
    assert by_summary["Call with the New York office"].starts_at == utc(2026, 12, 11, 1)
    # Cancelled: skipped, reported, and its UID handed on so a merge removes it.
    assert "Offsite" not in by_summary
    assert parsed.cancelled_uids == {"2c4e6g8i0k2m4o6q8s0u2w4y6a@google.com"}
    assert parsed.skipped == 1
    assert parsed.warnings == ("event 'Offsite' (2c4e6g8i0k2m4o6q8s0u2w4y6a@google.com): cancelled, not loaded",)
    # Last month's review ended before today: outside the window.
    assert "Last month's review" not in by_summary
    assert [e.starts_at for e in parsed.entries] == sorted(e.starts_at for e in parsed.entries)


def test_an_outlook_export_with_windows_zone_names_an_all_day_event_and_a_broken_entry() -> None:
    parsed = read("outlook_export.ics", BERLIN)
    sync = [e for e in parsed.entries if e.summary == "Project sync"]
    # 09:00 "W. Europe Standard Time" (its VTIMEZONE: CET in winter) daily until the 8th, from today on.
    assert [e.starts_at for e in sync] == [utc(2026, 12, day, 8) for day in range(3, 9)]
    assert {e.location for e in sync} == {"Microsoft Teams Meeting"}
    # The folded UID is read whole.
    assert sync[0].base_uid.endswith("B6D3BF1A9D6B14B9E0E6E0F0B2A6D1C5")
    (holiday,) = [e for e in parsed.entries if e.summary == "Company holiday"]
    assert holiday.all_day
    assert (holiday.starts_at, holiday.ends_at) == (utc(2026, 12, 7, 23), utc(2026, 12, 8, 23))  # midnight to midnight in Berlin
    # An entry with an unreadable DTSTART is skipped and named, not silently dropped.
    assert parsed.skipped == 1
    (warning,) = parsed.warnings
    assert "Budget review" in warning
    assert "DTSTART" in warning
    assert "2026-12-09 10:00" in warning


def test_all_day_floating_and_duration_events_read_in_the_devices_zone() -> None:
    parsed = read("allday_floating.ics")
    by_summary = {e.summary: e for e in parsed.entries}
    trip = by_summary["Christmas trip"]
    assert trip.all_day
    assert (trip.starts_at, trip.ends_at) == (utc(2026, 12, 23, 16), utc(2026, 12, 26, 16))  # 24th-26th in Shanghai
    assert trip.location == "Hangzhou"
    birthday = by_summary["Mum's birthday"]  # no DTEND: the one day
    assert (birthday.starts_at, birthday.ends_at) == (utc(2026, 12, 4, 16), utc(2026, 12, 5, 16))
    lunch = by_summary["Lunch with Li Wei"]  # floating 12:00, as the wearer's wall clock reads it
    assert not lunch.all_day
    assert (lunch.starts_at, lunch.ends_at) == (utc(2026, 12, 5, 4), utc(2026, 12, 5, 5, 30))
    anniversary = by_summary["Wedding anniversary"]  # yearly: this year's falls in the window
    assert anniversary.event_uid == "D4C6E8F0-2A3B-5C7D-9E1F-4A6B8C0D2E3F#20261207"
    assert parsed.warnings == ()
    # The same file for a wearer in Berlin: the same wall-clock times, other instants.
    berlin = {e.summary: e for e in read("allday_floating.ics", BERLIN).entries}
    assert berlin["Lunch with Li Wei"].starts_at == utc(2026, 12, 5, 11)


def test_a_malformed_file_is_refused_with_its_line_and_reason() -> None:
    with pytest.raises(CalendarFileError) as refused:
        read("malformed.ics")
    assert refused.value.line == 7
    assert str(refused.value) == (
        "line 7: not an iCalendar content line (NAME:VALUE): 'this line lost its property name when the file was pasted'"
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the file is empty: no BEGIN:VCALENDAR"),
        (b"<html><body>Sign in to Google</body></html>\n", "line 1: not an iCalendar content line"),
        (b"BEGIN:VEVENT\r\nEND:VEVENT\r\n", "line 1: the file does not start with BEGIN:VCALENDAR"),
        (b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nDTSTART:20261204T090000Z\r\n", "line 2: BEGIN:VEVENT is never closed"),
        (b"BEGIN:VCALENDAR\nBEGIN:VEVENT\nEND:VTODO\nEND:VCALENDAR\n", "line 3: END:VTODO closes BEGIN:VEVENT of line 2"),
        (b"BEGIN:VCALENDAR\nEND:VCALENDAR\nBEGIN:VCALENDAR\nEND:VCALENDAR\n", "line 3: content after END:VCALENDAR"),
        (b"BEGIN:VCALENDAR\nSUMMARY:caf\xe9\nEND:VCALENDAR\n", "line 2: not UTF-8 text"),
    ],
)
def test_files_that_are_not_icalendar_say_why(data: bytes, message: str) -> None:
    with pytest.raises(CalendarFileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_ics(data, zone=SHANGHAI, now=NOW)


def test_an_oversized_file_is_refused_unread() -> None:
    data = (DATA / "google_work.ics").read_bytes()
    with pytest.raises(CalendarTooLarge, match=f"the file is {len(data):,} bytes; the limit is 1,000"):
        parse_ics(data, zone=SHANGHAI, now=NOW, max_bytes=1000)


def test_rules_too_frequent_or_too_many_occurrences_are_reported() -> None:
    data = b"""BEGIN:VCALENDAR
VERSION:2.0
BEGIN:VEVENT
UID:every-minute
DTSTART:20261203T000000Z
RRULE:FREQ=MINUTELY
SUMMARY:Ping
END:VEVENT
BEGIN:VEVENT
UID:hourly
DTSTART:20261203T000000Z
DURATION:PT10M
RRULE:FREQ=HOURLY
SUMMARY:Stretch
END:VEVENT
BEGIN:VEVENT
UID:no-start
SUMMARY:Sometime
END:VEVENT
END:VCALENDAR
"""
    parsed = parse_ics(data, zone=ZoneInfo("UTC"), now=NOW, max_events=50)
    assert len(parsed.entries) == 50
    assert {e.base_uid for e in parsed.entries} == {"hourly"}
    assert parsed.skipped == 2
    assert parsed.warnings == (
        "event 'Ping' (every-minute): skipped, RRULE FREQ=MINUTELY repeats more often than hourly",
        "event 'Stretch' (hourly): only its first occurrences loaded, the import is limited to 50 occurrences",
        "event 'Sometime' (no-start): skipped, it has no DTSTART",
    )


def test_zones_outlook_names_without_a_vtimezone_and_unknown_ones() -> None:
    data = b"""BEGIN:VCALENDAR
VERSION:2.0
BEGIN:VEVENT
UID:windows-name
DTSTART;TZID=China Standard Time:20261204T090000
DTEND;TZID=China Standard Time:20261204T100000
SUMMARY:Supplier call
END:VEVENT
BEGIN:VEVENT
UID:unknown-zone
DTSTART;TZID=Nowhere/Special:20261204T090000
DTEND;TZID=Nowhere/Special:20261204T093000
SUMMARY:Mystery meeting
END:VEVENT
BEGIN:VEVENT
UID:backwards
DTSTART:20261204T090000Z
DTEND:20261204T080000Z
SUMMARY:Backwards
END:VEVENT
END:VCALENDAR
"""
    parsed = parse_ics(data, zone=BERLIN, now=NOW)
    by_summary = {e.summary: e for e in parsed.entries}
    assert by_summary["Supplier call"].starts_at == utc(2026, 12, 4, 1)  # Windows' name for Asia/Shanghai
    # Unknown: loaded as the device's wall clock, and said so.
    assert by_summary["Mystery meeting"].starts_at == utc(2026, 12, 4, 8)
    assert "Backwards" not in by_summary
    assert parsed.warnings == (
        "event 'Mystery meeting' (unknown-zone): unknown time zone 'Nowhere/Special', read as the device's (Europe/Berlin)",
        "event 'Backwards' (backwards): skipped, its DTEND is before its DTSTART",
    )
    assert parsed.skipped == 1


# --- what to show ---
def schedule() -> list[CalendarEntry]:
    return list(read("google_work.ics").entries + read("allday_floating.ics").entries)


def test_todays_schedule_is_the_devices_day_all_day_first() -> None:
    friday = dt.datetime(2026, 12, 4, 1, 0, tzinfo=dt.UTC)  # 09:00 Friday in Shanghai
    assert [e.summary for e in todays_schedule(schedule(), friday, SHANGHAI)] == ["Dentist"]
    saturday = dt.datetime(2026, 12, 5, 0, 0, tzinfo=dt.UTC)
    assert [e.summary for e in todays_schedule(schedule(), saturday, SHANGHAI)] == ["Mum's birthday", "Lunch with Li Wei"]
    assert day_bounds(saturday, SHANGHAI) == (utc(2026, 12, 4, 16), utc(2026, 12, 5, 16))


def test_whats_next_skips_all_day_events_and_what_is_over() -> None:
    during = dt.datetime(2026, 12, 4, 2, 30, tzinfo=dt.UTC)  # the dentist is under way
    assert [e.summary for e in upcoming(schedule(), during, limit=2)] == ["Dentist", "Lunch with Li Wei"]
    following = next_event(schedule(), during)
    assert following is not None
    assert following.summary == "Lunch with Li Wei"
    assert next_event(schedule(), utc(2027, 3, 1)) is None


def test_entries_become_calendar_events() -> None:
    trip = next(e for e in read("allday_floating.ics").entries if e.summary == "Christmas trip")
    event = trip.to_proto()
    assert (event.event_uid, event.summary, event.location, event.all_day) == (trip.event_uid, "Christmas trip", "Hangzhou", True)
    assert event.starts_at.ToDatetime(tzinfo=dt.UTC) == trip.starts_at
    assert event.ends_at.ToDatetime(tzinfo=dt.UTC) == trip.ends_at

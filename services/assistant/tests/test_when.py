import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sightline_assistant.domain.when import InvalidTimeError, PastTimeError, TimeExpressionError, UnknownTimeZoneError, find_when, zh_number

TZ = "Asia/Shanghai"
# Thursday 3 December 2026, 10:00 in Shanghai.
NOW = dt.datetime(2026, 12, 3, 10, 0, tzinfo=ZoneInfo(TZ))


def local(day: int, hour: int, minute: int = 0, month: int = 12) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=ZoneInfo(TZ))


@pytest.mark.parametrize(
    ("language", "text", "due", "recurrence"),
    [
        ("en", "at six", local(3, 18), None),  # 6:00 has passed: the next six is 18:00
        ("en", "at 6:30 pm", local(3, 18, 30), None),
        ("en", "at 6 am", local(4, 6), None),  # passed today: tomorrow's
        ("en", "in 10 minutes", local(3, 10, 10), None),
        ("en", "in an hour", local(3, 11), None),
        ("en", "in half an hour", local(3, 10, 30), None),
        ("en", "in two hours", local(3, 12), None),
        ("en", "tomorrow at 9", local(4, 9), None),
        ("en", "tonight at eight", local(3, 20), None),
        ("en", "at noon", local(3, 12), None),
        ("en", "at 18:45", local(3, 18, 45), None),
        ("en", "every day at 8 am", local(4, 8), "daily"),
        ("en", "every Monday at 9", local(7, 9), "weekly"),
        ("en", "on friday at 3 pm", local(4, 15), None),
        ("zh", "十分钟后", local(3, 10, 10), None),
        ("zh", "半小时后", local(3, 10, 30), None),
        ("zh", "一个半小时以后", local(3, 11, 30), None),
        ("zh", "明天早上九点", local(4, 9), None),
        ("zh", "下午三点半", local(3, 15, 30), None),
        ("zh", "晚上八点一刻", local(3, 20, 15), None),
        ("zh", "今晚八点", local(3, 20), None),
        ("zh", "每天早上八点", local(4, 8), "daily"),
        ("zh", "每天晚上十点", local(3, 22), "daily"),
        ("zh", "每周一早上九点", local(7, 9), "weekly"),
        ("zh", "下周三下午两点", local(9, 14), None),
        ("zh", "三点十分", local(3, 15, 10), None),
    ],
)
def test_time_expressions(language: str, text: str, due: dt.datetime, recurrence: str | None) -> None:
    when = find_when(text, language=language, now=NOW, time_zone=TZ)
    assert when is not None
    assert when.due_at == due
    assert when.due_at.tzinfo is not None
    assert str(when.due_at.tzinfo) == TZ
    assert when.recurrence == recurrence


def test_six_after_six_pm_is_tomorrow_morning() -> None:
    evening = NOW.replace(hour=19)
    assert find_when("at six", language="en", now=evening, time_zone=TZ).due_at == local(4, 6)
    assert find_when("六点", language="zh", now=evening, time_zone=TZ).due_at == local(4, 6)


def test_the_span_is_where_the_expression_is() -> None:
    text = "remind me at 6:30 pm to call mom"
    when = find_when(text, language="en", now=NOW, time_zone=TZ)
    assert text[when.span[0] : when.span[1]] == "at 6:30 pm"


def test_now_in_another_zone_is_converted() -> None:
    utc_now = NOW.astimezone(dt.UTC)
    assert find_when("at six", language="en", now=utc_now, time_zone=TZ).due_at == local(3, 18)


def test_device_time_zone_decides_the_wall_clock() -> None:
    when = find_when("tomorrow at 9", language="en", now=NOW, time_zone="America/New_York")
    # 10:00 Thursday in Shanghai is 21:00 Wednesday in New York: "tomorrow" is Thursday there.
    assert when.due_at == dt.datetime(2026, 12, 3, 9, 0, tzinfo=ZoneInfo("America/New_York"))


def test_no_time_expression() -> None:
    assert find_when("call mom", language="en", now=NOW, time_zone=TZ) is None
    assert find_when("buy 2 apples", language="en", now=NOW, time_zone=TZ) is None
    assert find_when("给妈妈打电话", language="zh", now=NOW, time_zone=TZ) is None


@pytest.mark.parametrize(
    ("language", "text"), [("en", "yesterday at 5"), ("en", "today at 6 am"), ("zh", "昨天下午五点"), ("zh", "今天早上八点")]
)
def test_past_explicit_times_are_errors(language: str, text: str) -> None:
    with pytest.raises(PastTimeError, match="has passed"):
        find_when(text, language=language, now=NOW, time_zone=TZ)


def test_impossible_times_are_errors() -> None:
    with pytest.raises(InvalidTimeError):
        find_when("at 25", language="en", now=NOW, time_zone=TZ)
    with pytest.raises(InvalidTimeError):
        find_when("at 8:75", language="en", now=NOW, time_zone=TZ)


@pytest.mark.parametrize("zone_name", ["Mars/Olympus", "", "not a zone"])
def test_unknown_time_zones_are_errors(zone_name: str) -> None:
    with pytest.raises(UnknownTimeZoneError, match="unknown time zone"):
        find_when("at six", language="en", now=NOW, time_zone=zone_name)
    assert issubclass(UnknownTimeZoneError, TimeExpressionError)


def test_naive_now_is_refused() -> None:
    with pytest.raises(TimeExpressionError, match="aware"):
        find_when("at six", language="en", now=dt.datetime(2026, 12, 3, 10, 0), time_zone=TZ)


def test_dst_gap_is_normalised() -> None:
    # 2:30 on 8 March 2026 does not exist in New York (clocks jump 2:00 -> 3:00).
    tz = "America/New_York"
    now = dt.datetime(2026, 3, 7, 23, 0, tzinfo=ZoneInfo(tz))
    when = find_when("tomorrow at 2:30 am", language="en", now=now, time_zone=tz)
    assert when.due_at.astimezone(dt.UTC) == dt.datetime(2026, 3, 8, 7, 30, tzinfo=dt.UTC)


@pytest.mark.parametrize(("text", "value"), [("八", 8), ("十", 10), ("十五", 15), ("二十", 20), ("二十五", 25), ("两", 2), ("12", 12)])
def test_chinese_numbers(text: str, value: int) -> None:
    assert zh_number(text) == value

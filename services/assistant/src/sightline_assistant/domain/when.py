"""Time expressions in spoken commands, English and Chinese, to an aware datetime.

Everything is computed from an injected `now` in the device's IANA time zone
(no clock of its own), so "at six" means six where the wearer is.

Rules:
- an hour without am/pm ("at six", "九点") is the next future one of 6:00 and
  18:00; a period word ("tonight", "下午", "morning") settles it;
- a clock time that has passed today without a day word is tomorrow's;
- an explicit past ("yesterday at 5", "today at 6 am" at noon) is a
  PastTimeError, never silently moved;
- "every day at 8" / "每天早上八点" is daily, "every Monday at 9" / "每周一" is
  weekly; due_at is then the first occurrence.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class TimeExpressionError(ValueError):
    """A time expression the assistant can't turn into a due time."""


class PastTimeError(TimeExpressionError):
    """The wearer named a time that has already passed ("yesterday at 5")."""


class UnknownTimeZoneError(TimeExpressionError):
    """The device's time zone is not an IANA zone ("Mars/Olympus", "")."""


class InvalidTimeError(TimeExpressionError):
    """A clock time that doesn't exist ("at 25", "13 pm", "8:75")."""


@dataclass(frozen=True)
class When:
    due_at: dt.datetime  # aware, in the device's time zone
    recurrence: str | None  # "daily", "weekly" or None
    span: tuple[int, int]  # where the expression is in the text, to cut it out of a reminder's text


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise UnknownTimeZoneError(f"unknown time zone {name!r}") from exc


_EN_NUMBERS = {
    "zero": 0,
    "one": 1,
    "a": 1,
    "an": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "forty five": 45,
    "fifty": 50,
    "couple of": 2,
    "few": 3,
}
_EN_WEEKDAYS = {"monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5, "sunday": 6}
_ZH_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_ZH_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "七": 6}

_EN_NUM = r"\d{1,2}|" + "|".join(sorted((re.escape(k) for k in _EN_NUMBERS), key=len, reverse=True))
_EN_UNIT = r"(?P<unit>seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|weeks?)"
_EN_RELATIVE = re.compile(
    rf"\b(?:in|after)\s+(?:(?P<half>half\s+an?\s+hour)|(?:(?P<num>{_EN_NUM})\s+(?:and\s+a\s+(?P<andhalf>half)\s+)?{_EN_UNIT}))\b"
)
_EN_DAY = re.compile(
    r"\b(?P<day>today|tonight|tomorrow|yesterday|the\s+day\s+after\s+tomorrow|"
    r"this\s+(?:morning|afternoon|evening)|tomorrow\s+(?:morning|afternoon|evening|night)|"
    r"(?:every|each)\s+(?:day|morning|evening|night|week)|daily|weekly|"
    r"(?:(?:every|each|on|next|this)\s+)?(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)s?)\b"
)
_EN_CLOCK_WORDS = r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve"
_EN_CLOCK = re.compile(
    rf"\b(?:(?P<at>at|by|around)\s+)?(?:(?P<noon>noon|midnight)|(?P<hour>\d{{1,2}}|{_EN_CLOCK_WORDS})"
    rf"(?:[:.](?P<minute>\d{{2}})|\s+(?P<mword>fifteen|thirty|forty five|o'?clock))?\s*(?P<ampm>a\.?\s?m\b\.?|p\.?\s?m\b\.?)?)"
    r"(?:\s+(?:in\s+the\s+)?(?P<period>morning|afternoon|evening|at\s+night|tonight))?"
)

_ZH_NUM = r"[0-9零〇一二两三四五六七八九十]+"
_ZH_RELATIVE = re.compile(
    rf"(?:过\s*)?(?:(?P<half>半)(?:个)?\s*(?:小时|钟头)|(?P<num>{_ZH_NUM})\s*(?:个)?\s*(?P<andhalf>半)?\s*(?P<unit>秒钟?|分钟|分|小时|钟头|天))\s*(?:后|以后|之后)?"
)
_ZH_DAY = re.compile(
    r"(?P<day>今天|今日|明天|明日|后天|昨天|今晚|明晚|昨晚|每天|每日|每晚|每周[一二三四五六日天]?|每星期[一二三四五六日天]?|"
    r"每个星期[一二三四五六日天]?|每礼拜[一二三四五六日天]?|(?:下)?(?:周|星期|礼拜)[一二三四五六日天])"
)
_ZH_PERIOD = r"(?P<period>凌晨|早上|早晨|清晨|上午|中午|下午|傍晚|晚上|夜里|今晚|明晚)"
_ZH_CLOCK = re.compile(
    rf"{_ZH_PERIOD}?\s*(?:(?P<hour>{_ZH_NUM})\s*(?:点钟?|时|:|：)\s*(?:(?P<half>半)|(?P<quarter>一刻|三刻)|(?P<minute>{_ZH_NUM})\s*分?)?)"
)
_ZH_PERIOD_ONLY = re.compile(_ZH_PERIOD)


def zh_number(text: str) -> int:
    """Chinese or Arabic numerals up to 99 ("十五", "二十", "两", "8")."""
    if text.isdigit():
        return int(text)
    if "十" in text:
        tens, _, units = text.partition("十")
        return (_ZH_DIGITS.get(tens, 1) if tens else 1) * 10 + (_ZH_DIGITS[units] if units else 0)
    value = 0
    for char in text:
        if char not in _ZH_DIGITS:
            raise InvalidTimeError(f"not a number: {text!r}")
        value = value * 10 + _ZH_DIGITS[char]
    return value


def _en_number(text: str) -> int:
    text = re.sub(r"\s+", " ", text)
    return int(text) if text.isdigit() else _EN_NUMBERS[text]


def find_when(text: str, *, language: str, now: dt.datetime, time_zone: str) -> When | None:
    """The first time expression in `text`, or None if there is none."""
    tz = zone(time_zone)
    if now.tzinfo is None:
        raise TimeExpressionError("now must be timezone-aware")
    local_now = now.astimezone(tz)
    if language.lower().startswith("zh"):
        return _find_zh(text, local_now)
    return _find_en(text.lower(), local_now)


_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "秒": 1, "分": 60, "小": 3600, "钟": 3600, "天": 86400}


def _relative(match: re.Match[str], local_now: dt.datetime, unit_key: str) -> When:
    if match.group("half") and not match.group("num"):
        seconds = 1800.0
    else:
        number = zh_number(match.group("num")) if unit_key in _UNIT_SECONDS and not unit_key.isascii() else _en_number(match.group("num"))
        seconds = (number + (0.5 if match.group("andhalf") else 0)) * _UNIT_SECONDS[unit_key]
    return When(due_at=local_now + dt.timedelta(seconds=seconds), recurrence=None, span=match.span())


@dataclass
class _Parts:
    """What a day word and a clock time say, before they are combined."""

    day_offset: int | None = None  # 0 today, 1 tomorrow, -1 yesterday
    weekday: int | None = None
    recurrence: str | None = None
    hour: int | None = None
    minute: int = 0
    pm: bool | None = None  # None: the wearer didn't say
    explicit_day: bool = False
    span: tuple[int, int] | None = None

    def cover(self, span: tuple[int, int]) -> None:
        self.span = span if self.span is None else (min(self.span[0], span[0]), max(self.span[1], span[1]))


def _en_day(parts: _Parts, word: str) -> None:
    word = re.sub(r"\s+", " ", word)
    weekday = next((v for k, v in _EN_WEEKDAYS.items() if k in word), None)
    if weekday is not None:
        parts.weekday = weekday
        parts.explicit_day = True
        if word.startswith(("every", "each")) or word.endswith("s"):
            parts.recurrence = "weekly"
        return
    if word.startswith(("every", "each")) or word in ("daily", "weekly"):
        parts.recurrence = "weekly" if "week" in word else "daily"
        if word.endswith(("evening", "night")):
            parts.pm = True
        elif word.endswith("morning"):
            parts.pm = False
        return
    parts.explicit_day = True
    if word.startswith("yesterday"):
        parts.day_offset = -1
    elif word.startswith("the day after"):
        parts.day_offset = 2
    elif word.startswith("tomorrow"):
        parts.day_offset = 1
    else:
        parts.day_offset = 0
    if word == "tonight" or word.endswith(("evening", "night", "afternoon")):
        parts.pm = True
    elif word.endswith("morning"):
        parts.pm = False


def _find_en(text: str, local_now: dt.datetime) -> When | None:
    relative = _EN_RELATIVE.search(text)
    if relative:
        unit = relative.group("unit") or "h"
        return _relative(relative, local_now, unit[0])
    parts = _Parts()
    for day in _EN_DAY.finditer(text):
        _en_day(parts, day.group("day"))
        parts.cover(day.span())
    for clock in _EN_CLOCK.finditer(text):
        # A bare number is a time only with "at", am/pm, a colon or o'clock ("buy 2 apples" is not).
        if not (clock.group("at") or clock.group("ampm") or clock.group("minute") or clock.group("noon") or clock.group("mword")):
            continue
        if clock.group("noon"):
            parts.hour, parts.pm = (12, True) if clock.group("noon") == "noon" else (0, False)
        else:
            hour_text = clock.group("hour")
            parts.hour = int(hour_text) if hour_text.isdigit() else _EN_NUMBERS[hour_text]
            mword = clock.group("mword")
            if clock.group("minute"):
                parts.minute = int(clock.group("minute"))
            elif mword and "clock" not in mword:
                parts.minute = _EN_NUMBERS[re.sub(r"\s+", " ", mword)]
            ampm = clock.group("ampm")
            if ampm:
                parts.pm = ampm.startswith("p")
            period = clock.group("period")
            if period:
                parts.pm = period != "morning"
        parts.cover(clock.span())
        break
    return _combine(parts, local_now)


def _find_zh(text: str, local_now: dt.datetime) -> When | None:
    relative = _ZH_RELATIVE.search(text)
    # "十分钟后" is relative; "三点十分" is a clock time and is left to _ZH_CLOCK.
    if relative and (relative.group("half") or re.search(r"(后|以后|之后)$", relative.group(0)) or relative.group(0).startswith("过")):
        unit = "小" if relative.group("half") and not relative.group("num") else relative.group("unit")[0]
        return _relative(relative, local_now, unit)
    parts = _Parts()
    for day in _ZH_DAY.finditer(text):
        parts.cover(day.span())
        _zh_day(parts, day.group("day"), local_now)
    clock = _ZH_CLOCK.search(text)
    if clock:
        parts.hour = zh_number(clock.group("hour"))
        if clock.group("half"):
            parts.minute = 30
        elif clock.group("quarter"):
            parts.minute = 15 if clock.group("quarter") == "一刻" else 45
        elif clock.group("minute"):
            parts.minute = zh_number(clock.group("minute"))
        _zh_period(parts, clock.group("period"))
        parts.cover(clock.span())
    else:
        period = _ZH_PERIOD_ONLY.search(text)
        if period and (parts.span or parts.recurrence):
            _zh_period(parts, period.group("period"))
            parts.cover(period.span())
    return _combine(parts, local_now)


def _zh_day(parts: _Parts, word: str, local_now: dt.datetime) -> None:
    if word.startswith("每"):
        weekday = word[-1] if word[-1] in _ZH_WEEKDAYS and word not in ("每天",) else None
        if word in ("每天", "每日", "每晚"):
            parts.recurrence = "daily"
            if word == "每晚":
                parts.pm = True
        else:
            parts.recurrence = "weekly"
            parts.weekday = _ZH_WEEKDAYS[weekday] if weekday else local_now.weekday()
            parts.explicit_day = True
    elif word[-1] in _ZH_WEEKDAYS and word[-2] in "周期拜":
        parts.weekday = _ZH_WEEKDAYS[word[-1]]
        parts.explicit_day = True
        if word.startswith("下"):
            parts.day_offset = 7 - local_now.weekday() + parts.weekday  # next week's
            parts.weekday = None
    else:
        parts.explicit_day = True
        parts.day_offset = {"今": 0, "明": 1, "后": 2, "昨": -1}[word[0]]
        if word.endswith("晚"):
            parts.pm = True


def _zh_period(parts: _Parts, period: str | None) -> None:
    if not period:
        return
    if period in ("凌晨", "早上", "早晨", "清晨", "上午"):
        parts.pm = False
    elif period == "中午":
        # 中午十二点 is noon, 中午一点 is 13:00.
        parts.pm = parts.hour is None or parts.hour < 11 or parts.hour == 12
    else:
        parts.pm = True
    if period in ("今晚", "明晚"):
        parts.explicit_day = True
        parts.day_offset = 0 if period == "今晚" else 1


# When a day or period is said without a clock time ("tomorrow", "明天早上").
_DEFAULT_HOUR = {None: 9, False: 9, True: 20}


def _combine(parts: _Parts, local_now: dt.datetime) -> When | None:
    if parts.span is None:
        return None
    hour_said = parts.hour is not None
    hour = parts.hour if hour_said else _DEFAULT_HOUR[parts.pm]
    if not (0 <= hour <= 24 and 0 <= parts.minute <= 59) or (parts.pm is False and hour > 12 and hour_said):
        raise InvalidTimeError(f"no such time: {hour}:{parts.minute:02d}")
    # 24h clock ("18:30", "at 0") or am/pm known: one candidate; else both halves of the day.
    if hour > 12 or hour == 0 or not hour_said:
        hours = [hour % 24]
        if not hour_said and parts.pm is None:
            hours = [9]
    elif parts.pm is None:
        hours = [hour % 12, hour % 12 + 12]
    else:
        hours = [hour % 12 + (12 if parts.pm else 0)]
    dates = _candidate_dates(parts, local_now)
    candidates = sorted(dt.datetime.combine(day, dt.time(h, parts.minute), tzinfo=local_now.tzinfo) for day in dates for h in hours)
    future = [c for c in candidates if c > local_now]
    if not future:
        raise PastTimeError(f"that time has passed: {_spoken(candidates[-1], local_now)} (it is {local_now:%H:%M} now)")
    return When(due_at=_resolve(future[0]), recurrence=parts.recurrence, span=parts.span)


def _spoken(moment: dt.datetime, local_now: dt.datetime) -> str:
    """A time as the wearer's card says it: "18:57 today", "09:00 yesterday", "09:00 on 1 Dec 2026"."""
    days = (moment.date() - local_now.date()).days
    day = {0: "today", -1: "yesterday", 1: "tomorrow"}.get(days) or f"on {moment.day} {moment:%b %Y}"
    return f"{moment:%H:%M} {day}"


def _candidate_dates(parts: _Parts, local_now: dt.datetime) -> list[dt.date]:
    today = local_now.date()
    if parts.day_offset is not None:
        return [today + dt.timedelta(days=parts.day_offset)]
    if parts.weekday is not None:
        ahead = (parts.weekday - today.weekday()) % 7
        first = today + dt.timedelta(days=ahead)
        return [first, first + dt.timedelta(days=7)]
    # No day said: today, else the next occurrence tomorrow.
    return [today, today + dt.timedelta(days=1)]


def _resolve(candidate: dt.datetime) -> dt.datetime:
    """A wall time that a DST jump skipped or repeated, normalised through UTC."""
    return candidate.astimezone(dt.UTC).astimezone(candidate.tzinfo)

"""Intent arguments from the words of a command: languages, reminder text and time, note text,
destination. Shared by the grammar and by nearest-example matching (a paraphrase still names its
destination or its time)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sightline_assistant.domain.when import When, find_when

# Spoken language names -> BCP-47.
LANGUAGES_EN: dict[str, str] = {
    "english": "en",
    "chinese": "zh",
    "mandarin": "zh",
    "cantonese": "yue",
    "japanese": "ja",
    "korean": "ko",
    "french": "fr",
    "german": "de",
    "spanish": "es",
    "italian": "it",
    "portuguese": "pt",
    "russian": "ru",
    "arabic": "ar",
    "hindi": "hi",
    "thai": "th",
    "vietnamese": "vi",
    "dutch": "nl",
}
LANGUAGES_ZH: dict[str, str] = {
    "中文": "zh",
    "汉语": "zh",
    "普通话": "zh",
    "国语": "zh",
    "粤语": "yue",
    "广东话": "yue",
    "英文": "en",
    "英语": "en",
    "日文": "ja",
    "日语": "ja",
    "韩文": "ko",
    "韩语": "ko",
    "法文": "fr",
    "法语": "fr",
    "德文": "de",
    "德语": "de",
    "西班牙语": "es",
    "西班牙文": "es",
    "意大利语": "it",
    "葡萄牙语": "pt",
    "俄语": "ru",
    "俄文": "ru",
    "阿拉伯语": "ar",
    "泰语": "th",
    "越南语": "vi",
}
_EN_LANG = re.compile(r"\b(" + "|".join(LANGUAGES_EN) + r")\b", re.IGNORECASE)
_ZH_LANG = re.compile("|".join(sorted(LANGUAGES_ZH, key=len, reverse=True)))
# "into French", "in French", "成法语", "用英语": the one language named is the target.


def is_chinese(language: str) -> bool:
    return language.lower().startswith(("zh", "yue", "cmn"))


def language_pair(text: str, language: str) -> dict[str, str]:
    """source_language/target_language: "between English and Chinese", "from X to Y", "把中文翻译成英文"
    (two languages: the first is the source); one language is the target."""
    zh = is_chinese(language)
    names = LANGUAGES_ZH if zh else LANGUAGES_EN
    found = [names[m.group(0).lower()] for m in (_ZH_LANG if zh else _EN_LANG).finditer(text)]
    found = list(dict.fromkeys(found))  # "English ... english" is one language
    if len(found) >= 2:
        return {"source_language": found[0], "target_language": found[1]}
    if len(found) == 1:
        return {"target_language": found[0]}
    return {}


_EN_REMINDER_LEAD = re.compile(
    r"(?i)^(?:(?:please|can you|could you|would you|will you)\s+)*(?:"
    r"remind me|set (?:a |up a )?reminder|create (?:a )?reminder|add (?:a )?reminder|make (?:a )?reminder|"
    r"don'?t let me forget|reminder)\b(?:\s+for)?\s*"
)
_EN_REMINDER_JOINER = re.compile(r"(?i)^(?:to|that|about|of|for)\s+|\s+(?:to|that|about)$")
_ZH_REMINDER = re.compile(
    r"(?:请|麻烦)?(?:你)?(?:帮我)?(?:设置?(?:一个)?提醒|提醒我一下|提醒一下我|提醒我|提醒|叫我一下|叫我|别让我忘了|别忘了)"
)


@dataclass(frozen=True)
class ReminderSlots:
    when: When | None
    text: str


def reminder(text: str, *, language: str, now: dt.datetime, time_zone: str) -> ReminderSlots:
    """The due time and what to be reminded of; raises when.TimeExpressionError for a past or invalid time."""
    when = find_when(text, language=language, now=now, time_zone=time_zone)
    rest = text if when is None else text[: when.span[0]] + " " + text[when.span[1] :]
    if is_chinese(language):
        rest = _ZH_REMINDER.sub(" ", rest)
        rest = rest.strip(" ，,。的")
        rest = re.sub(r"\s+", "", rest) if not re.search(r"[a-zA-Z]\s+[a-zA-Z]", rest) else rest.strip()
        return ReminderSlots(when=when, text=rest)
    rest = re.sub(r"\s+", " ", rest).strip(" .,!?;:")
    rest = _EN_REMINDER_LEAD.sub("", rest).strip()
    for _ in range(2):
        rest = _EN_REMINDER_JOINER.sub("", rest).strip()
    rest = re.sub(r"(?i)\s+(?:please|thanks|thank you)$", "", rest)
    return ReminderSlots(when=when, text=rest)


def recurrence_name(when: When | None) -> str:
    return when.recurrence if when and when.recurrence else ""


def clean_destination(destination: str) -> str:
    return re.sub(r"(?i)\s+(?:please|now|thanks|thank you)$", "", destination.strip(" ,.。，?？")).strip()

"""The deterministic grammar: the core phrasings of every command, English and Chinese.

A small rule table of full-match regexes over a normalised command (lowercase,
no punctuation, politeness like "please" / "could you" / "请" / "帮我" / "一下"
removed). First matching rule wins, so the specific rules ("translate between
English and Chinese") come before the general ones ("translate this"). A match
is certain (confidence 1.0); anything else goes to nearest-example matching.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

from sightline.v1 import input_pb2 as pb

from sightline_assistant.domain import slots as slot
from sightline_assistant.domain.when import When

Intent = int  # a sightline.v1.IntentKind value


@dataclass(frozen=True)
class GrammarMatch:
    intent: Intent
    slots: dict[str, str] = field(default_factory=dict)
    when: When | None = None


@dataclass(frozen=True)
class Context:
    text: str  # the normalised command
    raw: str  # what the wearer said (without the wake phrase)
    language: str
    now: dt.datetime
    time_zone: str


SlotFn = Callable[[re.Match[str], Context], GrammarMatch]


def _punctuation_to_space(text: str) -> str:
    return "".join(" " if unicodedata.category(c)[0] in "PS" and c not in "'’:" else c for c in text)


_EN_LEAD = re.compile(
    r"(?i)^(?:(?:please|pls|could you|can you|would you|will you|would you mind|hey|ok|okay|so|um|uh|oh|"
    r"i want you to|i'd like you to|i would like you to|go ahead and|just|now)\s+)+"
)
_EN_TAIL = re.compile(r"(?i)(?:\s+(?:please|for me|thanks|thank you|now|right now|ok|okay))+$")
_ZH_LEAD = re.compile(r"^(?:请你?|麻烦你?|帮我|帮忙|你能不能|你可以|能不能|可不可以|你帮我|嗯|那个)+")
_ZH_TAIL = re.compile(r"(?:一下|吧|吗|呢|啊|呀|哦|好吗|好不好|可以吗|行吗|谢谢|谢谢你)+$")


def normalise(text: str, language: str) -> str:
    text = unicodedata.normalize("NFKC", text).replace("’", "'")
    text = re.sub(r"\s+", " ", _punctuation_to_space(text)).strip()
    if slot.is_chinese(language):
        # Chinese has no spaces between words; ASR's stray ones would break the rules.
        text = re.sub(r"(?<=[^A-Za-z0-9]) | (?=[^A-Za-z0-9])", "", text)
        # "一下" softens any verb ("识别一下这个", "查一下价格"); the rules don't need to know where.
        text = text.replace("一下", "") or text
        return _strip_politeness(text, _ZH_LEAD, _ZH_TAIL)
    return _strip_politeness(text, _EN_LEAD, _EN_TAIL)


def _strip_politeness(text: str, lead: re.Pattern[str], tail: re.Pattern[str]) -> str:
    for _ in range(2):
        stripped = tail.sub("", lead.sub("", text)).strip()
        # "please" or "ok" alone is the whole command, not politeness around one.
        if not stripped:
            return text
        text = stripped
    return text


def _plain(intent: Intent) -> SlotFn:
    return lambda _m, _c: GrammarMatch(intent)


def _with_query(intent: Intent) -> SlotFn:
    return lambda _m, c: GrammarMatch(intent, {"query": c.raw.strip()})


def _conversation(_m: re.Match[str], c: Context) -> GrammarMatch:
    return GrammarMatch(pb.INTENT_KIND_START_CONVERSATION_TRANSLATION, slot.language_pair(c.text, c.language))


def _translate(_m: re.Match[str], c: Context) -> GrammarMatch:
    pair = slot.language_pair(c.text, c.language)
    return GrammarMatch(pb.INTENT_KIND_TRANSLATE, {"target_language": pair["target_language"]} if "target_language" in pair else {})


def _navigate(m: re.Match[str], _c: Context) -> GrammarMatch:
    return GrammarMatch(pb.INTENT_KIND_NAVIGATE, {"destination": slot.clean_destination(m.group("destination"))})


def _note(m: re.Match[str], _c: Context) -> GrammarMatch:
    text = (m.groupdict().get("text") or "").strip()
    return GrammarMatch(pb.INTENT_KIND_TAKE_NOTE, {"text": text} if text else {})


def reminder_match(c: Context) -> GrammarMatch:
    found = slot.reminder(c.raw, language=c.language, now=c.now, time_zone=c.time_zone)
    slots = {"text": found.text} if found.text else {}
    if found.when is not None:
        slots["due_at"] = found.when.due_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
        if found.when.recurrence:
            slots["recurrence"] = found.when.recurrence
    return GrammarMatch(pb.INTENT_KIND_SET_REMINDER, slots, found.when)


def _reminder(_m: re.Match[str], c: Context) -> GrammarMatch:
    return reminder_match(c)


_THIS = r"(?:this|that|it|these|those|this one|that one|this thing|that thing)"
_LANG_EN = "|".join(slot.LANGUAGES_EN)

EN_RULES: list[tuple[str, SlotFn]] = [
    # conversation translation (before "translate this")
    (
        r"(?:stop|end|turn off|disable|close|cancel|quit|exit) (?:the )?(?:conversation |live |two way )?"
        r"(?:translation|translating|interpreting|interpreter|interpretation)(?: mode)?",
        _plain(pb.INTENT_KIND_STOP_CONVERSATION_TRANSLATION),
    ),
    (
        r"(?:start|begin|turn on|enable|open|activate) (?:the )?(?:conversation |live |two way )?"
        r"(?:translation|translating|interpreting|interpreter|interpretation)(?: mode)?(?: .*)?",
        _conversation,
    ),
    (
        rf"(?:translate|interpret) (?:(?:my|our|the|this) conversation )?(?:between|from) (?:{_LANG_EN}) (?:and|to|into) (?:{_LANG_EN})",
        _conversation,
    ),
    (r"(?:translate|interpret) (?:my|our|the|this) conversation(?: .*)?", _conversation),
    (rf"(?:translate|interpret) (?:for me )?(?:into|to) (?:{_LANG_EN})", _conversation),
    # translate what I see
    (rf"translate(?: {_THIS}| the (?:sign|menu|text|label|writing|page|words))?(?: (?:into|to) (?:{_LANG_EN}))?", _translate),
    (r"translate what i(?:'m| am)? (?:see|seeing|looking at)", _translate),
    (rf"what does {_THIS} say(?: in (?:{_LANG_EN}))?", _translate),
    (rf"what does {_THIS} mean", _translate),
    # photos
    (rf"(?:take|snap|shoot|grab) (?:a |an |the )?(?:photo|picture|pic|snapshot|shot)(?: of {_THIS})?", _plain(pb.INTENT_KIND_TAKE_PHOTO)),
    (r"(?:photo|picture|snapshot|say cheese)", _plain(pb.INTENT_KIND_TAKE_PHOTO)),
    # shopping
    (
        rf"(?:how much (?:is|does|do|are) {_THIS}(?: cost)?|what(?:'s| is) the price(?: of {_THIS})?|price check|"
        rf"check the price(?: of {_THIS})?|compare (?:the )?prices?(?: (?:of|for) {_THIS})?|how much)",
        _plain(pb.INTENT_KIND_PRICE_CHECK),
    ),
    (
        rf"(?:add|put) (?:{_THIS} )?(?:to|in|into) (?:my |the )?(?:shopping )?(?:cart|basket)|add to cart",
        _plain(pb.INTENT_KIND_ADD_TO_CART),
    ),
    (rf"(?:i want to |i'd like to |let's )?(?:buy|purchase) (?:{_THIS}|one)|buy|purchase|buy now", _plain(pb.INTENT_KIND_BUY)),
    # confirm / cancel (a card on the HUD asks)
    (
        r"(?:yes|yeah|yep|yup|sure|ok|okay|confirm|confirmed|i confirm|go ahead|do it|approve|approved|yes confirm|yes please|correct)",
        _plain(pb.INTENT_KIND_CONFIRM),
    ),
    (
        rf"(?:cancel|no|nope|never mind|nevermind|forget it|abort|stop|cancel {_THIS}|cancel the (?:order|purchase|payment))",
        _plain(pb.INTENT_KIND_CANCEL),
    ),
    # navigation
    (
        r"(?:stop|end|cancel|exit|quit|turn off) (?:the )?(?:navigation|navigating|directions|route|guidance)|stop navigating",
        _plain(pb.INTENT_KIND_STOP_NAVIGATION),
    ),
    (
        r"(?:navigate|take me|bring me|guide me|walk me|lead me|get me|give me directions|directions|show me the way|"
        r"how do i get|how can i get|how do i go|route me|navigation) to (?P<destination>.+)",
        _navigate,
    ),
    (r"navigate (?P<destination>.+)", _navigate),
    # No destination: the Understander answers INCOMPLETE ("where to?").
    (r"(?:start )?(?:navigate|navigation|navigating)|give me directions|directions", _plain(pb.INTENT_KIND_NAVIGATE)),
    # reminders
    (
        r".*\b(?:remind me|set (?:a |up a )?reminder|create (?:a )?reminder|add (?:a )?reminder|make (?:a )?reminder)\b.*",
        _reminder,
    ),
    # meeting notes (before notes)
    (
        r"(?:start|begin|turn on|open) (?:the |taking |recording )?"
        r"(?:meeting notes|meeting minutes|minutes|notes (?:for|of|in) (?:this|the) meeting|meeting transcription)|"
        r"take (?:meeting notes|minutes)|(?:start|begin) (?:recording|transcribing) (?:the |this )?meeting",
        _plain(pb.INTENT_KIND_START_MEETING_NOTES),
    ),
    (
        r"(?:stop|end|finish|close|turn off) (?:the |taking )?"
        r"(?:meeting notes|meeting minutes|minutes|notes|note taking|meeting transcription)|"
        r"(?:stop|end) (?:recording|transcribing) (?:the |this )?meeting",
        _plain(pb.INTENT_KIND_STOP_MEETING_NOTES),
    ),
    # notes
    (r"(?:take|make|add|write|save|create) (?:a )?note(?:(?: that| saying| of| to|:)? (?P<text>.+))?", _note),
    (r"(?:note|note down|write down)(?: that)?:? (?P<text>.+)", _note),
    # schedule
    (r"what(?:'s| is) next(?: on my (?:schedule|calendar|agenda))?", _plain(pb.INTENT_KIND_NEXT_EVENT)),
    (
        r"(?:what(?:'s| is) |when(?:'s| is) )?my next (?:meeting|event|appointment)|next (?:meeting|event|appointment)",
        _plain(pb.INTENT_KIND_NEXT_EVENT),
    ),
    (
        r"what(?:'s| is) (?:on )?my (?:schedule|calendar|agenda)(?: (?:for )?(?:today|tomorrow|this week))?|"
        r"(?:show|read|check|open|tell me) (?:me )?my (?:schedule|calendar|agenda)(?: (?:for )?(?:today|tomorrow))?|"
        r"what do i have (?:on )?(?:today|tomorrow)|my (?:schedule|calendar|agenda)",
        _plain(pb.INTENT_KIND_SCHEDULE),
    ),
    # notifications
    (
        r"(?:read|show|check|open) (?:me )?(?:my )?(?:new |unread )?(?:notifications|messages|alerts)|"
        r"(?:any|do i have any) (?:new |unread )?(?:notifications|messages)|(?:what are )?my notifications|notifications",
        _plain(pb.INTENT_KIND_READ_NOTIFICATIONS),
    ),
    # what is this (a question about what the camera sees)
    (
        rf"what(?:'s| is) {_THIS}(?: called)?|what am i (?:looking at|seeing)|identify {_THIS}|what is this (?:\w+ ){{0,2}}called|"
        rf"what (?:kind|type|sort) of (?:\w+ ){{1,3}}is {_THIS}",
        _with_query(pb.INTENT_KIND_WHAT_IS_THIS),
    ),
]

_ZH_THIS = r"(?:这个|这|那个|那|它|这些|这里)"
_LANG_ZH = "|".join(sorted(slot.LANGUAGES_ZH, key=len, reverse=True))

ZH_RULES: list[tuple[str, SlotFn]] = [
    (
        r"(?:停止|关闭|关掉|结束|退出|停下|取消)(?:对话|同声|实时|双向)?(?:翻译|传译|口译)(?:模式)?|(?:不要|别|不用)(?:再)?翻译了",
        _plain(pb.INTENT_KIND_STOP_CONVERSATION_TRANSLATION),
    ),
    (r"(?:开始|开启|打开|启动|进入)(?:对话|同声|实时|双向)?(?:翻译|传译|口译)(?:模式)?.*", _conversation),
    (rf"(?:把)?(?:{_LANG_ZH})(?:翻译|翻|译)(?:成|为|到)(?:{_LANG_ZH})", _conversation),
    (rf"(?:在)?(?:{_LANG_ZH})(?:和|与|跟)(?:{_LANG_ZH})(?:之间)?(?:互相)?(?:翻译|互译|对话翻译)", _conversation),
    (rf"翻译(?:成|为)(?:{_LANG_ZH})", _conversation),
    (rf"翻译{_ZH_THIS}?(?:上面的字|段话|段文字|些字)?", _translate),
    (
        rf"翻译(?:我)?(?:看到|眼前)的(?:东西|文字|字|内容)?|{_ZH_THIS}(?:上面)?写(?:的|着)(?:是)?什么(?:意思)?|{_ZH_THIS}是什么意思",
        _translate,
    ),
    (r"(?:拍|照|来)一?[张个]?(?:照片?|相片?|相)|拍(?:一?下|一张|张)?(?:这个|这|那个)?", _plain(pb.INTENT_KIND_TAKE_PHOTO)),
    (rf"{_ZH_THIS}?(?:多少钱|什么价格?|价格是?多少|多少价|卖多少)|(?:查|查一下|看看)?价格?|比价", _plain(pb.INTENT_KIND_PRICE_CHECK)),
    (rf"(?:把)?{_ZH_THIS}?(?:加入|加到|放进|放到|添加到|加进)(?:我的)?购物车(?:里)?|加入购物车", _plain(pb.INTENT_KIND_ADD_TO_CART)),
    (rf"(?:我要|我想|就)?(?:买|购买|下单)(?:{_ZH_THIS}|一个)?", _plain(pb.INTENT_KIND_BUY)),
    (r"确认|确定|是的|好的|好|对|可以|同意|没问题|行|就这样", _plain(pb.INTENT_KIND_CONFIRM)),
    (r"取消|不要|算了|不用了|不了|停|不要了", _plain(pb.INTENT_KIND_CANCEL)),
    (r"(?:停止|关闭|关掉|结束|退出|取消)导航|(?:不用|别|不要)(?:再)?导航了", _plain(pb.INTENT_KIND_STOP_NAVIGATION)),
    (r"(?:导航|带我|领我|送我)(?:去|到)(?P<destination>.+)", _navigate),
    (r"(?:我要|我想)?去(?P<destination>.+?)(?:怎么走|的路)", _navigate),
    (r"怎么(?:去|走到|到)(?P<destination>.+)", _navigate),
    (r"导航(?P<destination>.+)", _navigate),
    (r"(?:开始|打开|启动)?导航", _plain(pb.INTENT_KIND_NAVIGATE)),
    (r".*(?:提醒我|设置?(?:一个)?提醒|提醒).*", _reminder),
    (
        r"(?:开始|开启|打开|启动)(?:做|记录)?会议(?:记录|纪要|笔记)|(?:开始)?记录(?:这个|这次)?会议(?:内容)?|开始(?:记|做)(?:会议)?纪要",
        _plain(pb.INTENT_KIND_START_MEETING_NOTES),
    ),
    (r"(?:停止|结束|关闭|关掉|退出)(?:会议)?(?:记录|纪要|笔记)", _plain(pb.INTENT_KIND_STOP_MEETING_NOTES)),
    # "一下" is already gone: "记一下 X" arrives as "记X".
    (r"(?:记下来?|记录|记个笔记|做个笔记|记笔记|做笔记|备忘录?|笔记|记(?![得住]))(?:[:：])?(?P<text>.*)", _note),
    (
        r"(?:下一个|下个)(?:会议|日程|安排|活动|约会|事情?)?(?:是什么|是啥|在几点|几点|什么时候)?|接下来(?:是什么|做什么|有什么|干什么)",
        _plain(pb.INTENT_KIND_NEXT_EVENT),
    ),
    (
        r"(?:我)?(?:今天|明天|这周|本周)?(?:的)?(?:日程|安排|行程|日历)(?:是什么|有什么|有哪些)?|(?:我)?(?:今天|明天)有(?:什么|哪些)(?:安排|日程|会议|会)",
        _plain(pb.INTENT_KIND_SCHEDULE),
    ),
    (
        r"(?:读|念|看|查看|播报|打开)(?:我的)?(?:新|未读)?(?:通知|消息|信息)|(?:我)?有(?:什么)?(?:新|未读)?(?:通知|消息)",
        _plain(pb.INTENT_KIND_READ_NOTIFICATIONS),
    ),
    (
        rf"{_ZH_THIS}(?:是)?(?:什么|啥)(?:东西)?|{_ZH_THIS}叫什么|识别{_ZH_THIS}?|{_ZH_THIS}是什么\w{{1,3}}",
        _with_query(pb.INTENT_KIND_WHAT_IS_THIS),
    ),
]


class Grammar:
    def __init__(self) -> None:
        self._rules = {
            "en": [(re.compile(p, re.IGNORECASE), fn) for p, fn in EN_RULES],
            "zh": [(re.compile(p, re.IGNORECASE), fn) for p, fn in ZH_RULES],
        }

    def parse(self, text: str, *, language: str, now: dt.datetime, time_zone: str) -> GrammarMatch | None:
        """The command's intent and slots, or None when no core phrasing matches.
        Raises when.TimeExpressionError for a reminder at a past or impossible time."""
        key = "zh" if slot.is_chinese(language) else "en"
        normal = normalise(text, language)
        if not normal:
            return None
        context = Context(text=normal, raw=text, language=language, now=now, time_zone=time_zone)
        for pattern, fn in self._rules[key]:
            match = pattern.fullmatch(normal)
            if match:
                return fn(match, context)
        return None

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sightline.v1 import input_pb2 as pb
from sightline_assistant.domain.grammar import Grammar, normalise
from sightline_assistant.domain.when import PastTimeError

TZ = "Asia/Shanghai"
NOW = dt.datetime(2026, 12, 3, 10, 0, tzinfo=ZoneInfo(TZ))  # Thursday


@pytest.fixture(scope="module")
def grammar() -> Grammar:
    return Grammar()


def parse(grammar: Grammar, text: str, language: str):
    return grammar.parse(text, language=language, now=NOW, time_zone=TZ)


@pytest.mark.parametrize(
    ("language", "text", "intent"),
    [
        ("en", "Take a photo.", pb.INTENT_KIND_TAKE_PHOTO),
        ("en", "please snap a picture of this", pb.INTENT_KIND_TAKE_PHOTO),
        ("en", "translate this", pb.INTENT_KIND_TRANSLATE),
        ("en", "What does that say?", pb.INTENT_KIND_TRANSLATE),
        ("en", "stop translating", pb.INTENT_KIND_STOP_CONVERSATION_TRANSLATION),
        ("en", "price check", pb.INTENT_KIND_PRICE_CHECK),
        ("en", "how much is this", pb.INTENT_KIND_PRICE_CHECK),
        ("en", "buy this", pb.INTENT_KIND_BUY),
        ("en", "add this to my cart", pb.INTENT_KIND_ADD_TO_CART),
        ("en", "Confirm.", pb.INTENT_KIND_CONFIRM),
        ("en", "cancel", pb.INTENT_KIND_CANCEL),
        ("en", "stop navigation", pb.INTENT_KIND_STOP_NAVIGATION),
        ("en", "what's on my schedule", pb.INTENT_KIND_SCHEDULE),
        ("en", "what is next", pb.INTENT_KIND_NEXT_EVENT),
        ("en", "read my notifications", pb.INTENT_KIND_READ_NOTIFICATIONS),
        ("en", "start meeting notes", pb.INTENT_KIND_START_MEETING_NOTES),
        ("en", "stop meeting notes", pb.INTENT_KIND_STOP_MEETING_NOTES),
        ("en", "what is this", pb.INTENT_KIND_WHAT_IS_THIS),
        ("zh", "拍照", pb.INTENT_KIND_TAKE_PHOTO),
        ("zh", "请帮我拍一张照片。", pb.INTENT_KIND_TAKE_PHOTO),
        ("zh", "翻译一下这个", pb.INTENT_KIND_TRANSLATE),
        ("zh", "停止翻译", pb.INTENT_KIND_STOP_CONVERSATION_TRANSLATION),
        ("zh", "这个多少钱？", pb.INTENT_KIND_PRICE_CHECK),
        ("zh", "我要买这个", pb.INTENT_KIND_BUY),
        ("zh", "加入购物车", pb.INTENT_KIND_ADD_TO_CART),
        ("zh", "确认", pb.INTENT_KIND_CONFIRM),
        ("zh", "取消", pb.INTENT_KIND_CANCEL),
        ("zh", "停止导航", pb.INTENT_KIND_STOP_NAVIGATION),
        ("zh", "我今天有什么安排", pb.INTENT_KIND_SCHEDULE),
        ("zh", "下一个日程是什么", pb.INTENT_KIND_NEXT_EVENT),
        ("zh", "读一下我的通知", pb.INTENT_KIND_READ_NOTIFICATIONS),
        ("zh", "开始会议记录", pb.INTENT_KIND_START_MEETING_NOTES),
        ("zh", "结束会议纪要", pb.INTENT_KIND_STOP_MEETING_NOTES),
        ("zh", "这是什么？", pb.INTENT_KIND_WHAT_IS_THIS),
    ],
)
def test_core_phrasings(grammar: Grammar, language: str, text: str, intent: int) -> None:
    match = parse(grammar, text, language)
    assert match is not None, text
    assert pb.IntentKind.Name(match.intent) == pb.IntentKind.Name(intent)


@pytest.mark.parametrize(
    ("language", "text", "source", "target"),
    [
        ("en", "translate between English and Chinese", "en", "zh"),
        ("en", "start conversation translation from Spanish to English", "es", "en"),
        ("en", "translate into French", None, "fr"),
        ("zh", "把中文翻译成英文", "zh", "en"),
        ("zh", "开始对话翻译，中文和日语", "zh", "ja"),
    ],
)
def test_conversation_translation_languages(grammar: Grammar, language: str, text: str, source: str | None, target: str) -> None:
    match = parse(grammar, text, language)
    assert match.intent == pb.INTENT_KIND_START_CONVERSATION_TRANSLATION
    assert match.slots.get("source_language") == source
    assert match.slots["target_language"] == target


@pytest.mark.parametrize(
    ("language", "text", "destination"),
    [
        ("en", "Navigate to the Louvre, please", "the Louvre"),
        ("en", "take me to 10 Downing Street", "10 Downing Street"),
        ("zh", "导航到天安门", "天安门"),
        ("zh", "带我去最近的咖啡店", "最近的咖啡店"),
        ("zh", "去火车站怎么走", "火车站"),
    ],
)
def test_navigation_destination(grammar: Grammar, language: str, text: str, destination: str) -> None:
    match = parse(grammar, text, language)
    assert match.intent == pb.INTENT_KIND_NAVIGATE
    assert match.slots == {"destination": destination}


@pytest.mark.parametrize(
    ("language", "text", "what", "due", "recurrence"),
    [
        ("en", "remind me at six to call mom", "call mom", dt.datetime(2026, 12, 3, 18, 0), None),
        ("en", "Remind me to buy milk in 10 minutes.", "buy milk", dt.datetime(2026, 12, 3, 10, 10), None),
        ("en", "every monday at 9 remind me to file the report", "file the report", dt.datetime(2026, 12, 7, 9, 0), "weekly"),
        ("en", "remind me every day at 8 am to stretch", "stretch", dt.datetime(2026, 12, 4, 8, 0), "daily"),
        ("zh", "提醒我明天早上九点开会", "开会", dt.datetime(2026, 12, 4, 9, 0), None),
        ("zh", "每天早上八点提醒我吃药", "吃药", dt.datetime(2026, 12, 4, 8, 0), "daily"),
        ("zh", "十分钟后提醒我关火", "关火", dt.datetime(2026, 12, 3, 10, 10), None),
    ],
)
def test_reminders(grammar: Grammar, language: str, text: str, what: str, due: dt.datetime, recurrence: str | None) -> None:
    match = parse(grammar, text, language)
    assert match.intent == pb.INTENT_KIND_SET_REMINDER
    assert match.slots["text"] == what
    assert match.when.due_at == due.replace(tzinfo=ZoneInfo(TZ))
    # Command.slots carries RFC 3339 UTC.
    assert dt.datetime.fromisoformat(match.slots["due_at"]) == match.when.due_at
    assert match.slots["due_at"].endswith("Z")
    assert match.slots.get("recurrence") == recurrence


def test_reminder_in_the_past_raises(grammar: Grammar) -> None:
    with pytest.raises(PastTimeError):
        parse(grammar, "remind me yesterday at 5 to call mom", "en")


@pytest.mark.parametrize(
    ("language", "text", "note"),
    [
        ("en", "take a note that the car is on level 3", "the car is on level 3"),
        ("en", "Note: the door code is 4512", "the door code is 4512"),
        ("zh", "记一下，车停在B2", "车停在B2"),
    ],
)
def test_note_text(grammar: Grammar, language: str, text: str, note: str) -> None:
    match = parse(grammar, text, language)
    assert match.intent == pb.INTENT_KIND_TAKE_NOTE
    assert match.slots == {"text": note}


def test_what_is_this_carries_the_question(grammar: Grammar) -> None:
    match = parse(grammar, "What kind of flower is this?", "en")
    assert match.intent == pb.INTENT_KIND_WHAT_IS_THIS
    assert match.slots == {"query": "What kind of flower is this?"}


@pytest.mark.parametrize(
    ("language", "text"), [("en", "what is the capital of France"), ("en", "I love this song"), ("zh", "今天天气真好"), ("en", "")]
)
def test_no_core_phrasing(grammar: Grammar, language: str, text: str) -> None:
    assert parse(grammar, text, language) is None


def test_normalise_strips_politeness_and_punctuation() -> None:
    assert normalise("Could you please take a photo, thanks!", "en") == "take a photo"
    assert normalise("please", "en") == "please"
    assert normalise("请帮我 拍 张照片吧。", "zh") == "拍张照片"

"""The Understander with the real all-MiniLM-L6-v2 (session fixture in conftest.py)."""

import dataclasses
import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from sightline.v1 import input_pb2 as pb
from sightline_assistant.domain.understanding import Status, Understander, Understanding, UnderstandingSettings, is_question
from sightline_assistant.domain.when import TimeExpressionError, UnknownTimeZoneError
from sightline_assistant.engines.embeddings import CharNgramEmbedder, ExampleMatcher, IntentExamples

TZ = "Europe/London"
NOW = dt.datetime(2026, 12, 3, 10, 0, tzinfo=ZoneInfo(TZ))


def understand(understander: Understander, text: str, language: str = "en") -> Understanding:
    return understander.understand(text, language=language, now=NOW, time_zone=TZ)


def test_grammar_first(understander: Understander) -> None:
    result = understand(understander, "take a photo")
    assert result.status is Status.COMMAND
    assert result.intent == pb.INTENT_KIND_TAKE_PHOTO
    assert (result.confidence, result.understood_by) == (1.0, "grammar")
    assert result.is_command
    assert result.intent_name == "TAKE_PHOTO"


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("could you grab an image of the view", pb.INTENT_KIND_TAKE_PHOTO),
        ("i need directions to the nearest subway", pb.INTENT_KIND_NAVIGATE),
        ("what meetings are on my calendar this afternoon", pb.INTENT_KIND_SCHEDULE),
        ("is anything new in my inbox", pb.INTENT_KIND_READ_NOTIFICATIONS),
    ],
)
def test_english_paraphrases_by_nearest_example(understander: Understander, text: str, intent: int) -> None:
    result = understand(understander, text)
    assert result.understood_by == "examples"
    assert result.status in (Status.COMMAND, Status.SUGGESTION)
    assert pb.IntentKind.Name(result.intent) == pb.IntentKind.Name(intent)
    assert 0.0 < result.confidence <= 1.0


def test_paraphrase_keeps_its_slots(understander: Understander) -> None:
    result = understand(understander, "i need directions to the nearest subway")
    assert result.slots["destination"] == "the nearest subway"


def test_between_suggest_and_accept_gives_a_did_you_mean(understander: Understander) -> None:
    strict = Understander(understander.matchers["en"].embedder, settings=UnderstandingSettings(accept=1.01, suggest=0.05))
    result = strict.understand("could you grab an image of the view", language="en", now=NOW, time_zone=TZ)
    assert result.status is Status.SUGGESTION
    assert result.intent == pb.INTENT_KIND_TAKE_PHOTO
    assert result.suggestion == "Did you mean “take a photo”?"
    assert not result.is_command
    result = strict.understand("i need directions to the nearest subway", language="en", now=NOW, time_zone=TZ)
    assert result.suggestion == "Did you mean “navigate: the nearest subway”?"
    assert result.slots["destination"] == "the nearest subway"
    result = strict.understand("帮我看一下这边有没有更便宜的", language="zh", now=NOW, time_zone=TZ)
    assert result.suggestion == "你是想说“查价格”吗？"
    # The grammar is certain whatever the thresholds.
    assert strict.understand("take a photo", language="en", now=NOW, time_zone=TZ).status is Status.COMMAND


def test_below_suggest_is_not_a_command(understander: Understander) -> None:
    picky = Understander(understander.matchers["en"].embedder, settings=UnderstandingSettings(accept=1.0, suggest=1.0))
    result = picky.understand("grab an image of the view", language="en", now=NOW, time_zone=TZ)
    assert result.status is Status.NOT_UNDERSTOOD
    assert "nearest example" in result.reason


def test_open_questions_go_to_ask(understander: Understander) -> None:
    result = understand(understander, "what is the capital of France")
    assert result.status is Status.COMMAND
    assert result.intent == pb.INTENT_KIND_ASK
    assert result.slots["query"] == "what is the capital of France"
    result = understand(understander, "法国的首都是哪里？", "zh")
    assert result.intent == pb.INTENT_KIND_ASK


@pytest.mark.parametrize("text", ["", "   ", "???", "12345", "asdfgh qwerty zxcvb", "the soup was rather salty yesterday"])
def test_not_understood_never_raises(understander: Understander, text: str) -> None:
    result = understand(understander, text)
    assert result.status is Status.NOT_UNDERSTOOD
    assert result.intent == pb.INTENT_KIND_UNSPECIFIED
    assert result.reason


def test_non_string_input_is_not_understood(understander: Understander) -> None:
    result = understander.understand(None, language="en", now=NOW, time_zone=TZ)  # type: ignore[arg-type]
    assert result.status is Status.NOT_UNDERSTOOD


def test_very_long_input_is_capped(understander: Understander) -> None:
    result = understand(understander, "please take a photo " * 500)
    assert len(result.transcript) <= understander.settings.max_chars
    assert result.status in (Status.COMMAND, Status.SUGGESTION, Status.NOT_UNDERSTOOD)


def test_reminder_slots_and_due_time(understander: Understander) -> None:
    result = understand(understander, "remind me at six to call mom")
    assert result.status is Status.COMMAND
    assert result.intent == pb.INTENT_KIND_SET_REMINDER
    assert result.due_at == dt.datetime(2026, 12, 3, 18, 0, tzinfo=ZoneInfo(TZ))
    assert result.slots["text"] == "call mom"
    assert result.slots["due_at"] == "2026-12-03T18:00:00Z"


def test_reminder_in_the_past_is_invalid(understander: Understander) -> None:
    result = understand(understander, "remind me yesterday at 5 to call mom")
    assert result.status is Status.INVALID
    assert result.intent == pb.INTENT_KIND_SET_REMINDER
    assert "passed" in result.reason


def test_reminder_without_a_time_is_incomplete(understander: Understander) -> None:
    result = understand(understander, "remind me to call mom")
    assert result.status is Status.INCOMPLETE
    assert result.reason == "when?"


@pytest.mark.parametrize(("text", "language"), [("navigate", "en"), ("start navigation", "en"), ("导航", "zh"), ("打开导航", "zh")])
def test_navigation_without_a_destination_is_incomplete(understander: Understander, text: str, language: str) -> None:
    result = understand(understander, text, language)
    assert result.status is Status.INCOMPLETE
    assert result.intent == pb.INTENT_KIND_NAVIGATE
    assert result.reason == "where to?"


def test_negation_turns_start_into_stop(understander: Understander) -> None:
    result = understand(understander, "okay we are finished with the meeting so the notes can end")
    assert result.intent == pb.INTENT_KIND_STOP_MEETING_NOTES


def test_chinese(understander: Understander) -> None:
    result = understand(understander, "每天早上八点提醒我吃药", "zh")
    assert result.status is Status.COMMAND
    assert result.slots["recurrence"] == "daily"
    assert result.due_at == dt.datetime(2026, 12, 4, 8, 0, tzinfo=ZoneInfo(TZ))
    result = understand(understander, "帮我看一下这边有没有更便宜的", "zh")
    assert result.understood_by == "examples"
    assert result.intent == pb.INTENT_KIND_PRICE_CHECK


def test_results_are_frozen(understander: Understander) -> None:
    result = understand(understander, "take a photo")
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.intent = pb.INTENT_KIND_BUY  # type: ignore[misc]
    with pytest.raises(TypeError):
        result.slots["x"] = "y"  # type: ignore[index]


def test_callers_bugs_raise(understander: Understander) -> None:
    with pytest.raises(UnknownTimeZoneError):
        understander.understand("take a photo", language="en", now=NOW, time_zone="Mars/Olympus")
    with pytest.raises(TimeExpressionError):
        understander.understand("take a photo", language="en", now=dt.datetime(2026, 12, 3, 10, 0), time_zone=TZ)


def test_minilm_is_english_centric(understander: Understander) -> None:
    """Why Chinese uses character n-grams: MiniLM maps most CJK characters to [UNK]."""
    minilm = understander.matchers["en"].embedder
    photo, price = minilm.embed(["拍照", "价格"])
    assert float(photo @ price) > 0.95  # two unrelated commands, one embedding
    vectors = minilm.embed(["take a photo", "snap a picture", "how much is this"])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert float(vectors[0] @ vectors[1]) > float(vectors[0] @ vectors[2])


def test_char_ngrams_tell_chinese_commands_apart() -> None:
    examples = IntentExamples.load()
    zh = examples.phrasings["zh"]
    matcher = ExampleMatcher(CharNgramEmbedder(p for v in zh.values() for p in v), zh)
    assert matcher.nearest("帮我拍一张相片").intent == "TAKE_PHOTO"
    assert matcher.nearest("这个卖多少钱啊").intent == "PRICE_CHECK"


def test_every_intent_has_examples_and_a_suggestion() -> None:
    examples = IntentExamples.load()
    kinds = {name.removeprefix("INTENT_KIND_") for name in pb.IntentKind.keys() if name != "INTENT_KIND_UNSPECIFIED"}  # noqa: SIM118
    for language in ("en", "zh"):
        assert kinds <= set(examples.phrasings[language])
        assert kinds <= set(examples.suggestions[language])
        assert all(len(examples.phrasings[language][k]) >= 5 for k in kinds)


def test_questions() -> None:
    assert is_question("who wrote hamlet", "en")
    assert not is_question("take a photo", "en")
    assert is_question("长城有多长", "zh")
    assert not is_question("拍照", "zh")


def test_no_example_is_a_held_out_phrasing() -> None:
    """bench/intent_accuracy.py measures on phrasings the examples were not written from: keep it so."""
    heldout = Path(__file__).resolve().parents[3] / "bench" / "data" / "assistant_intents_heldout.jsonl"
    texts = {json.loads(line)["text"].casefold() for line in heldout.read_text(encoding="utf-8").splitlines() if line.strip()}
    assert len(texts) >= 200
    examples = IntentExamples.load()
    copied = [p for phrasings in examples.phrasings.values() for ps in phrasings.values() for p in ps if p.casefold() in texts]
    assert copied == []

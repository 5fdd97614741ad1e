"""What a command asks for: the grammar first, then the nearest example.

    understander = Understander.load()                     # loads the model once
    result = understander.understand("remind me at six to call mom",
                                     language="en", now=now, time_zone="Europe/London")
    result.status, result.intent, result.slots, result.due_at, result.confidence

- a core phrasing matches the grammar: a command, confidence 1.0, understood_by "grammar";
- else the nearest example (English: all-MiniLM-L6-v2; Chinese: character
  n-grams, see engines/embeddings.py), its similarity calibrated to 0..1:
  >= accept: a command, understood_by "examples";
  >= suggest: a SUGGESTION whose `suggestion` is the "Did you mean …?" text;
- else a question goes to ASK (query = the question), anything else is NOT_UNDERSTOOD.

A reminder at a past or impossible time is INVALID (reason says why); a navigation
without a destination or a reminder without a time is INCOMPLETE. Never raises for
what the wearer said; only for a bad `now` or time zone, which are the caller's.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import re
import time
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from sightline.v1 import input_pb2 as pb

from sightline_assistant.domain import slots as slot
from sightline_assistant.domain.grammar import Context, Grammar, GrammarMatch, normalise, reminder_match
from sightline_assistant.domain.when import TimeExpressionError, zone
from sightline_assistant.engines.embeddings import NOT_A_COMMAND, CharNgramEmbedder, Embedder, ExampleMatcher, IntentExamples, Match


class Status(enum.StrEnum):
    COMMAND = "command"
    SUGGESTION = "suggestion"  # show "Did you mean …?"; on yes, act on intent + slots
    INCOMPLETE = "incomplete"  # the intent is clear, a required slot is missing (where to? when?)
    INVALID = "invalid"  # e.g. a reminder in the past
    NOT_UNDERSTOOD = "not_understood"


@dataclass(frozen=True)
class Calibration:
    """Maps a raw cosine similarity to a confidence: `low` -> 0, `high` -> 1, linear between."""

    low: float
    high: float

    def __call__(self, similarity: float) -> float:
        return min(1.0, max(0.0, (similarity - self.low) / (self.high - self.low)))


@dataclass(frozen=True)
class UnderstandingSettings:
    accept: float = 0.5  # confidence at or above which a nearest example is a command
    suggest: float = 0.3  # between suggest and accept: "Did you mean …?"
    max_chars: int = 400  # a longer transcript is cut (a command is a sentence, not a speech)
    # Chosen from leave-one-out nearest-example similarities over the examples alone, never the held-out set:
    # MiniLM (en) right p50 0.71 / wrong p50 0.51; char n-grams (zh) right p50 0.34 / wrong p50 0.20.
    calibration: Mapping[str, Calibration] = field(
        default_factory=lambda: MappingProxyType({"en": Calibration(0.35, 0.85), "zh": Calibration(0.1, 0.5)})
    )


@dataclass(frozen=True)
class Understanding:
    status: Status
    intent: int  # IntentKind; INTENT_KIND_UNSPECIFIED when not understood
    slots: Mapping[str, str]  # Command.slots: due_at as RFC 3339 UTC
    confidence: float
    understood_by: str  # "grammar", "examples" or "" (not understood)
    transcript: str  # what was understood (capped, without the wake phrase)
    language: str
    due_at: dt.datetime | None = None  # aware, in the device's time zone
    suggestion: str = ""  # the "Did you mean …?" card's text
    reason: str = ""  # why not a command (for a log line or an error card)
    elapsed_ms: float = 0.0

    @property
    def is_command(self) -> bool:
        return self.status is Status.COMMAND

    @property
    def intent_name(self) -> str:
        return pb.IntentKind.Name(self.intent).removeprefix("INTENT_KIND_")


_EN_QUESTION = re.compile(
    r"(?i)^(?:what|what's|who|who's|whom|whose|when|where|where's|why|which|how|how's|is|are|was|were|do|does|did|can|could|"
    r"will|would|should|shall|has|have|tell me)\b"
)
_ZH_QUESTION = re.compile(r"[?？]|[吗呢嘛]$|什么|谁|哪|为什么|为啥|怎么|怎样|多少|几[个点岁年月号天]|多[长高大远重久]|是否|是不是|有没有")
_EN_DESTINATION = re.compile(r"(?i)\b(?:to|towards|for)\s+(?P<d>.+)$")
_ZH_DESTINATION = re.compile(r"(?:去|到|往)(?P<d>.+?)(?:怎么走|的路线?|怎么去|吧)?$")
_EN_NOTE_LEAD = re.compile(r"(?i)^(?:.*?\b(?:note|down|remember|memo)\b)(?:\s+(?:that|this|of|to))?[\s:,]*")
_ZH_NOTE_LEAD = re.compile(r"^(?:.*?(?:记下来|记下|记住|记录|笔记|备忘录?|写下|记))[\s:：,，]*")
_REQUIRED = {pb.INTENT_KIND_NAVIGATE: ("destination", "where to?"), pb.INTENT_KIND_SET_REMINDER: ("due_at", "when?")}


def is_question(text: str, language: str) -> bool:
    if slot.is_chinese(language):
        return bool(_ZH_QUESTION.search(text))
    return text.rstrip().endswith("?") or bool(_EN_QUESTION.match(text.strip()))


def _meaningful(text: str) -> bool:
    """Letters of some script: "???" or "123 456" is no command."""
    return any(unicodedata.category(c).startswith("L") for c in text)


def _cap(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ")
    return cut[:space] if space > limit // 2 else cut


class Understander:
    def __init__(
        self,
        english: Embedder,
        *,
        examples: IntentExamples | None = None,
        settings: UnderstandingSettings | None = None,
    ) -> None:
        self.settings = settings or UnderstandingSettings()
        self.examples = examples or IntentExamples.load()
        self.grammar = Grammar()
        zh_examples = self.examples.phrasings["zh"]
        chinese = CharNgramEmbedder(p for phrasings in zh_examples.values() for p in phrasings)
        self.matchers = {"en": ExampleMatcher(english, self.examples.phrasings["en"]), "zh": ExampleMatcher(chinese, zh_examples)}

    @classmethod
    def load(cls, settings: UnderstandingSettings | None = None, *, threads: int | None = 1) -> Understander:
        """With all-MiniLM-L6-v2 from its package (a few seconds: call once at start-up)."""
        from sightline_assistant.engines.embeddings import MiniLMEmbedder  # noqa: PLC0415 - torch only when wanted

        return cls(MiniLMEmbedder(threads=threads), settings=settings)

    def understand(self, text: str, *, language: str, now: dt.datetime, time_zone: str) -> Understanding:
        """Raises when.UnknownTimeZoneError for a bad time zone and TimeExpressionError for a naive `now`
        (the caller's bugs); anything the wearer says gives a result."""
        zone(time_zone)
        if now.tzinfo is None:
            raise TimeExpressionError("now must be timezone-aware")
        started = time.perf_counter()
        result = self._understand(text, language=language, now=now, time_zone=time_zone)
        return _with_elapsed(result, (time.perf_counter() - started) * 1000)

    def _understand(self, text: str, *, language: str, now: dt.datetime, time_zone: str) -> Understanding:
        key = "zh" if slot.is_chinese(language) else "en"
        transcript = _cap(text.strip(), self.settings.max_chars) if isinstance(text, str) else ""
        if not transcript or not _meaningful(transcript):
            return self._not_understood(transcript, language, "empty" if not transcript else "no words")
        try:
            match = self.grammar.parse(transcript, language=language, now=now, time_zone=time_zone)
        except TimeExpressionError as exc:  # the time zone was checked above: this is the wearer's time
            return Understanding(
                Status.INVALID, pb.INTENT_KIND_SET_REMINDER, MappingProxyType({}), 1.0, "grammar", transcript, language, reason=str(exc)
            )
        if match is not None:
            return self._result(match, Status.COMMAND, 1.0, "grammar", transcript, language)
        return self._by_examples(transcript, key=key, language=language, now=now, time_zone=time_zone)

    def _by_examples(self, transcript: str, *, key: str, language: str, now: dt.datetime, time_zone: str) -> Understanding:
        nearest = self.matchers[key].nearest(normalise(transcript, language).lower())
        confidence = self.settings.calibration[key](nearest.similarity)
        if nearest.intent == NOT_A_COMMAND or confidence < self.settings.suggest:
            if is_question(transcript, language):
                return self._result(
                    GrammarMatch(pb.INTENT_KIND_ASK, {"query": transcript}), Status.COMMAND, 1.0, "grammar", transcript, language
                )
            return self._not_understood(transcript, language, f"nearest example {nearest.example!r} ({nearest.intent}, {confidence:.2f})")
        nearest = _negated(nearest, transcript, key)
        status = Status.COMMAND if confidence >= self.settings.accept else Status.SUGGESTION
        try:
            found = self._slots(nearest, transcript, language, now, time_zone)
        except TimeExpressionError as exc:
            return Understanding(
                Status.INVALID, found_intent(nearest), MappingProxyType({}), confidence, "examples", transcript, language, reason=str(exc)
            )
        result = self._result(found, status, confidence, "examples", transcript, language)
        if result.status is Status.SUGGESTION:
            card = self.examples.suggestions[key].get(nearest.intent, nearest.example)
            detail = found.slots.get("destination") or found.slots.get("text") or ""
            card = f"{card}: {detail}" if detail else card
            suggestion = f"你是想说“{card}”吗？" if key == "zh" else f"Did you mean “{card}”?"
            result = _replace(result, suggestion=suggestion)
        return result

    def _slots(self, nearest: Match, transcript: str, language: str, now: dt.datetime, time_zone: str) -> GrammarMatch:
        intent = found_intent(nearest)
        zh = slot.is_chinese(language)
        context = Context(text=normalise(transcript, language), raw=transcript, language=language, now=now, time_zone=time_zone)
        if intent == pb.INTENT_KIND_SET_REMINDER:
            return reminder_match(context)
        if intent in (pb.INTENT_KIND_START_CONVERSATION_TRANSLATION, pb.INTENT_KIND_TRANSLATE):
            pair = slot.language_pair(context.text, language)
            if intent == pb.INTENT_KIND_TRANSLATE:
                pair = {k: v for k, v in pair.items() if k == "target_language"}
            return GrammarMatch(intent, pair)
        if intent == pb.INTENT_KIND_NAVIGATE:
            found = (_ZH_DESTINATION if zh else _EN_DESTINATION).search(context.text)
            return GrammarMatch(intent, {"destination": slot.clean_destination(found.group("d"))} if found else {})
        if intent == pb.INTENT_KIND_TAKE_NOTE:
            note = (_ZH_NOTE_LEAD if zh else _EN_NOTE_LEAD).sub("", context.text, count=1).strip()
            return GrammarMatch(intent, {"text": note} if note and note != context.text else {})
        if intent in (pb.INTENT_KIND_ASK, pb.INTENT_KIND_WHAT_IS_THIS):
            return GrammarMatch(intent, {"query": transcript})
        return GrammarMatch(intent)

    def _result(self, match: GrammarMatch, status: Status, confidence: float, by: str, transcript: str, language: str) -> Understanding:
        reason = ""
        required = _REQUIRED.get(match.intent)
        if status is Status.COMMAND and required and not match.slots.get(required[0]):
            status, reason = Status.INCOMPLETE, required[1]
        return Understanding(
            status=status,
            intent=match.intent,
            slots=MappingProxyType(dict(match.slots)),
            confidence=round(confidence, 4),
            understood_by=by,
            transcript=transcript,
            language=language,
            due_at=match.when.due_at if match.when else None,
            reason=reason,
        )

    @staticmethod
    def _not_understood(transcript: str, language: str, reason: str) -> Understanding:
        return Understanding(
            Status.NOT_UNDERSTOOD, pb.INTENT_KIND_UNSPECIFIED, MappingProxyType({}), 0.0, "", transcript, language, reason=reason
        )


# Embeddings barely see negation: "we're done with the meeting notes" sits next to "start meeting notes".
_STOP_CUES = {
    "en": re.compile(r"(?i)\b(?:stop|end|ended|done|finish|finished|over|off|quit|no more|enough|don't need|close)\b"),
    "zh": re.compile(r"停|结束|关|完了|不用|别|不要|退出|够了"),
}
_STOP_OF = {
    "START_MEETING_NOTES": "STOP_MEETING_NOTES",
    "START_CONVERSATION_TRANSLATION": "STOP_CONVERSATION_TRANSLATION",
    "NAVIGATE": "STOP_NAVIGATION",
}


def _negated(nearest: Match, transcript: str, key: str) -> Match:
    stop = _STOP_OF.get(nearest.intent)
    if stop and _STOP_CUES[key].search(transcript):
        return dataclasses.replace(nearest, intent=stop)
    return nearest


def found_intent(nearest: Match) -> int:
    return pb.IntentKind.Value(f"INTENT_KIND_{nearest.intent}")


def _replace(result: Understanding, **changes: object) -> Understanding:
    return dataclasses.replace(result, **changes)


def _with_elapsed(result: Understanding, elapsed_ms: float) -> Understanding:
    return _replace(result, elapsed_ms=round(elapsed_ms, 3))

"""Meeting notes without a model: an extractive summary of transcript lines
and the action items found by cue phrases. Pure; English and Chinese.

The summary is the few most informative sentences, in the order they were
said. A sentence's score is how often its content words come up in the
whole meeting (SumBasic-style): what a meeting keeps returning to is what
it was about. English content words are words minus stop words and
fillers; Chinese has no spaces, so its content units are character bigrams
(no segmenter needed, and robust to ASR's odd word boundaries).

It is the embedded default and the fallback of the LLM summariser: it
always answers, in well under a millisecond a line.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

EXTRACTIVE = "extractive"
MAX_ACTION_ITEMS = 10
MAX_ITEM_CHARS = 200

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# Sentence ends: Latin . ! ? followed by space or end; CJK 。！？；and line breaks.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[。！？；])|\n+")
# "Alice: ..." / "张三：..." speaker labels, when a transcript carries them.
_SPEAKER = re.compile(rf"^(?:[A-Z][a-z]+(?: [A-Z][a-z]+)?|[{_HAN}]{{2,4}})\s*[:：]\s*")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_HAN_RUN = re.compile(f"[{_HAN}]+")

_STOP_EN_WORDS = """a about above after again all also am an and any are as at be because been before being below between both but by
    can could did do does doing done down during each few for from further get got had has have having he her here hers him
    his how i if in into is it its itself just let me more most my no nor not now of off on once only or other our ours out
    over own really right same she should so some still such than that the their them then there these they this those
    through to too under until up very was we well were what when where which while who whom why will with would yeah yes
    you your yours okay ok um uh erm hmm like oh gonna wanna thing things kind sort lot going go know think mean see say
    said good great thanks thank everyone everybody guys morning hello hi let's i'm it's that's we're you're i'll we'll"""
_STOP_EN = frozenset(_STOP_EN_WORDS.split())
# Chinese function characters: bigrams made only of these carry no topic.
_STOP_ZH = frozenset("的了是在我你他她它们这那有和就也都而及与或一个不吗呢吧啊嗯哦呀么要会对说好今天大家")

# Action-item cues. English: commitments ("I will", "I'll", "we need to"),
# proposals ("let's"), requests ("please", "can you") and labels ("action
# item", "todo"); Chinese: 请 / 需要 / 我会 / 我来 / 负责 / 记得 and
# deadlines (明天…前, 周五前, 下周).
_ACTION_EN = re.compile(
    r"\b(?:action items?|to-?dos?|follow[- ]up|i will|i'll|i am going to|i'm going to|we will|we'll|we need to|we have to|"
    r"we must|we should|you need to|need to|needs to|let's|let us|please|can you|could you|make sure|"
    r"is going to|will send|will update|will fix|will check|deadline|due (?:by|on))\b",
    re.IGNORECASE,
)
# Someone named commits: "Maria will book the venue", "Tom is going to call them".
_NAMED_COMMITMENT = re.compile(
    r"\b(?!(?:It|This|That|There|What|Which|Who|Nothing|Everything)\b)[A-Z][a-z]+ (?:will|shall|is going to|has to|needs to) [a-z]+"
)
_ACTION_ZH = re.compile(
    r"请|需要|我会|我来|我去|我负责|负责|记得|务必|一定要|必须|安排|待办|行动项|跟进|截止|"
    r"(?:明天|后天|今晚|下周|本周|这周|周[一二三四五六日天]|星期[一二三四五六日天]|月底|\d+号).{0,12}前|"
    r"(?:明天|下周|周[一二三四五六日天]).{0,6}(?:发|交|完成|提交|整理|修复|准备)"
)
# Running the meeting is not a task: "let's start", "let's move on".
_PROCEDURE_EN = re.compile(
    r"\blet(?:'s| us) (?:start|begin|get started|kick off|move on|wrap up|continue|go on|go through|recap|see)\b", re.IGNORECASE
)
_ACTION_LABEL = re.compile(r"^\s*(?:action items?|to-?dos?|待办事项?|行动项)\s*[:：]\s*", re.IGNORECASE)


@dataclass(frozen=True)
class MeetingSummary:
    summary: str
    action_items: tuple[str, ...]
    engine: str  # "extractive", or the model's name
    fallback_reason: str = ""  # why the LLM's notes were not used; "" when they were (or none was asked)


def sentences(lines: Iterable[str]) -> list[str]:
    """Transcript lines as sentences, speaker labels removed, in order."""
    out = []
    for line in lines:
        for part in _SENTENCE_END.split(line):
            text = part.strip()
            if not _ACTION_LABEL.match(text):  # "Action item: ..." is not a speaker
                text = _SPEAKER.sub("", text, count=1).strip()
            if text:
                out.append(text)
    return out


def content_units(sentence: str) -> list[str]:
    """The words (English) and character bigrams (Chinese) that carry content."""
    lowered = sentence.lower()
    units = [w for w in _WORD.findall(lowered) if w not in _STOP_EN and len(w) > 1]
    for run in _HAN_RUN.findall(sentence):
        if len(run) == 1:
            if run not in _STOP_ZH:
                units.append(run)
            continue
        units += [run[i : i + 2] for i in range(len(run) - 1) if not (run[i] in _STOP_ZH and run[i + 1] in _STOP_ZH)]
    return units


def _join(parts: Sequence[str]) -> str:
    """Sentences as one text: a space between Latin sentences, none after CJK punctuation."""
    text = ""
    for part in parts:
        if text and not re.search(f"[{_HAN}。！？；，：]$", text):
            text += " "
        text += part
    return text


def extractive_summary(lines: Sequence[str], *, max_sentences: int = 3) -> str:
    """The most informative sentences of the meeting, in the order they were said."""
    said = sentences(lines)
    if not said:
        return ""
    units = [content_units(s) for s in said]
    frequency = Counter(u for sentence_units in units for u in set(sentence_units))
    total = sum(frequency.values()) or 1
    scored = []
    for index, sentence_units in enumerate(units):
        distinct = set(sentence_units)
        if not distinct:
            continue
        # Mean weight of its distinct units, times a length damper: a long
        # sentence is not better for repeating itself, a two-word one rarely says much.
        weight = sum(frequency[u] / total for u in distinct) / math.sqrt(len(distinct))
        weight *= min(1.0, len(distinct) / 4)
        scored.append((weight, index))
    budget = max(1, min(max_sentences, math.ceil(len(said) / 4)))
    chosen: list[int] = []
    seen: list[set[str]] = []
    for _, index in sorted(scored, key=lambda item: (-item[0], item[1])):
        distinct = set(units[index])
        # Near-repeats (a point said twice) count once.
        if any(len(distinct & other) / len(distinct | other) > 0.6 for other in seen):
            continue
        chosen.append(index)
        seen.append(distinct)
        if len(chosen) == budget:
            break
    if not chosen:  # only fillers were said: the first sentence is the honest summary
        chosen = [0]
    return _join([said[i] for i in sorted(chosen)])


def is_action(sentence: str) -> bool:
    if _ACTION_LABEL.match(sentence) or _ACTION_ZH.search(sentence):
        return True
    cues = _ACTION_EN.findall(sentence) + _NAMED_COMMITMENT.findall(sentence)
    procedural = _PROCEDURE_EN.findall(sentence)
    return len(cues) > len(procedural)


def action_items(lines: Iterable[str]) -> tuple[str, ...]:
    """Sentences that commit someone to something, in order, each once."""
    items: list[str] = []
    for sentence in sentences(lines):
        if not is_action(sentence):
            continue
        item = _ACTION_LABEL.sub("", sentence).strip()
        if len(item) > MAX_ITEM_CHARS:
            item = item[: MAX_ITEM_CHARS - 1].rstrip() + "…"
        if item and item not in items:
            items.append(item)
        if len(items) == MAX_ACTION_ITEMS:
            break
    return tuple(items)


def summarize(lines: Sequence[str], *, max_sentences: int = 3) -> MeetingSummary:
    return MeetingSummary(extractive_summary(lines, max_sentences=max_sentences), action_items(lines), EXTRACTIVE)

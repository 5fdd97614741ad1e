"""The assistant's LLM: open questions answered in the wearer's language,
and meeting notes (a short summary plus action items), over an
OpenAI-compatible chat-completions endpoint (the runtime's ChatClient).

Every call has a deadline and a fallback, so a slow, failing or rambling
endpoint never leaves the wearer without a reply: a question gets a short
"can't answer now" in the wearer's language (engine "none"), a meeting gets
the extractive notes of domain.summary (engine "extractive"). Results say
which engine produced them and, after a fallback, why.

Models ramble and ignore formats, small ones most of all: answers are cut
to a few sentences with repeats dropped, and notes are parsed from a
SUMMARY / ACTION ITEMS reply when the model kept the format, from its
first paragraph and bullet lines when it did not.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from pydantic import SecretStr
from sightline_runtime.chat import ChatClient, ChatEndpoint, ChatError

from sightline_assistant.domain import summary as extractive
from sightline_assistant.domain.summary import MAX_ACTION_ITEMS, MAX_ITEM_CHARS, MeetingSummary

log = logging.getLogger(__name__)

NO_ENGINE = "none"
LANGUAGE_NAMES = {"en": "English", "zh": "Chinese", "es": "Spanish", "fr": "French", "de": "German", "ja": "Japanese"}
CANT_ANSWER = {"en": "Sorry, I can't answer that right now.", "zh": "抱歉，我现在无法回答。"}
ANSWER_SENTENCES = 3
ANSWER_CHARS = 300
SUMMARY_SENTENCES = 3
SUMMARY_CHARS = 600


def _language(tag: str) -> str:
    """The primary subtag: "zh-CN" -> "zh"."""
    return re.split(r"[-_]", tag.strip(), maxsplit=1)[0].lower() or "en"


@dataclass(frozen=True)
class AnswerConfig:
    endpoint: str = ""  # API base (…/v1); "" = no LLM, every question gets the fallback
    model: str = ""
    timeout_s: float = 8.0
    max_tokens: int = 160
    api_key: SecretStr = field(default_factory=lambda: SecretStr(""))

    def chat(self) -> ChatEndpoint:
        return ChatEndpoint(self.endpoint, self.model, self.api_key, self.timeout_s, self.max_tokens)


@dataclass(frozen=True)
class SummaryConfig:
    endpoint: str = ""  # API base (…/v1); "" = extractive notes only
    model: str = ""
    timeout_s: float = 30.0
    max_tokens: int = 320
    api_key: SecretStr = field(default_factory=lambda: SecretStr(""))
    # A longer transcript gets extractive notes: better than the model seeing only part of it.
    max_input_chars: int = 12_000

    def chat(self) -> ChatEndpoint:
        return ChatEndpoint(self.endpoint, self.model, self.api_key, self.timeout_s, self.max_tokens)


@dataclass(frozen=True)
class Answer:
    text: str
    language: str
    engine: str  # the model's name, or "none" when it could not answer
    fallback_reason: str = ""


class Answerer(Protocol):
    async def answer(self, question: str, *, language: str, context: str = "") -> Answer: ...


class Summarizer(Protocol):
    async def summarize(self, lines: Sequence[str], *, language: str) -> MeetingSummary: ...


def cant_answer(language: str, reason: str) -> Answer:
    lang = _language(language)
    return Answer(CANT_ANSWER.get(lang, CANT_ANSWER["en"]), lang, NO_ENGINE, reason)


class ExtractiveSummarizer:
    """The embedded default: no model, always answers."""

    name = extractive.EXTRACTIVE

    async def summarize(self, lines: Sequence[str], *, language: str) -> MeetingSummary:
        return extractive.summarize(lines)


# --- answers ---
ANSWER_PROMPT = (
    "You are the voice assistant of smart glasses. Answer the wearer's question in {language}, "
    "in at most three short sentences, without lists or markdown."
)
CONTEXT_PROMPT = "What the wearer's glasses see or know right now (use it if it helps): {context}"


class LlmAnswerer:
    def __init__(self, config: AnswerConfig) -> None:
        self.config = config
        self.chat = ChatClient(config.chat())

    async def start(self) -> LlmAnswerer:
        await self.chat.start()
        return self

    async def close(self) -> None:
        await self.chat.close()

    def messages(self, question: str, language: str, context: str) -> list[dict[str, str]]:
        system = ANSWER_PROMPT.format(language=LANGUAGE_NAMES.get(language, language))
        if context.strip():
            system += "\n" + CONTEXT_PROMPT.format(context=context.strip())
        return [{"role": "system", "content": system}, {"role": "user", "content": question.strip()}]

    async def answer(self, question: str, *, language: str, context: str = "") -> Answer:
        lang = _language(language)
        if not question.strip():
            return cant_answer(lang, "empty question")
        if not self.config.endpoint:
            return cant_answer(lang, "no LLM configured")
        try:
            reply = await self.chat.complete(self.messages(question, lang, context))
        except ChatError as err:
            log.warning("LLM answer failed", extra={"engine": self.config.model, "reason": err.reason, "error": str(err)})
            return cant_answer(lang, f"{err.reason}: {err}")
        text = clean_answer(reply.text)
        if not text:
            log.warning("LLM answer empty", extra={"engine": self.config.model, "reason": "empty"})
            return cant_answer(lang, "empty answer")
        return Answer(text, lang, reply.model or self.config.model)


# --- meeting notes ---
SUMMARY_PROMPT = (
    "You write meeting notes. Summarise the meeting transcript the user gives, in {language}.\n"
    "Reply in exactly this format and nothing else:\n"
    "SUMMARY: <one to three sentences>\n"
    "ACTION ITEMS:\n"
    "- <one task per line: who does what, by when>\n"
    "Write '- none' under ACTION ITEMS when nobody agreed to do anything."
)


class UnparseableNotes(ValueError):
    pass


class LlmSummarizer:
    def __init__(self, config: SummaryConfig, fallback: Summarizer | None = None) -> None:
        self.config = config
        self.chat = ChatClient(config.chat())
        self.fallback = fallback or ExtractiveSummarizer()

    async def start(self) -> LlmSummarizer:
        await self.chat.start()
        return self

    async def close(self) -> None:
        await self.chat.close()

    def messages(self, lines: Sequence[str], language: str) -> list[dict[str, str]]:
        system = SUMMARY_PROMPT.format(language=LANGUAGE_NAMES.get(language, language))
        transcript = "\n".join(line.strip() for line in lines if line.strip())
        return [{"role": "system", "content": system}, {"role": "user", "content": transcript}]

    async def _fallback(self, lines: Sequence[str], language: str, reason: str) -> MeetingSummary:
        notes = await self.fallback.summarize(lines, language=language)
        return MeetingSummary(notes.summary, notes.action_items, notes.engine, reason)

    async def summarize(self, lines: Sequence[str], *, language: str) -> MeetingSummary:
        lang = _language(language)
        if not any(line.strip() for line in lines):
            return MeetingSummary("", (), extractive.EXTRACTIVE, "empty transcript")
        if not self.config.endpoint:
            return await self._fallback(lines, lang, "no LLM configured")
        if sum(len(line) for line in lines) > self.config.max_input_chars:
            return await self._fallback(lines, lang, f"transcript over {self.config.max_input_chars} characters")
        try:
            reply = await self.chat.complete(self.messages(lines, lang))
            summary, items = parse_notes(reply.text)
        except (ChatError, UnparseableNotes) as err:
            reason = f"{err.reason}: {err}" if isinstance(err, ChatError) else f"unparseable: {err}"
            log.warning("LLM meeting notes failed; extractive notes instead", extra={"engine": self.config.model, "reason": reason})
            return await self._fallback(lines, lang, reason)
        return MeetingSummary(summary, items, reply.model or self.config.model)


# --- parsing what a model said ---
_HAN = "\u3400-\u4dbf\u4e00-\u9fff"
_SENTENCE = re.compile(r"[^.!?。！？]+(?:[.!?。！？]+[\"'”’)]*|$)")
# Headers, after markdown is removed: "SUMMARY: ...", "## Action items", "行动项：".
_SUMMARY_HEADER = re.compile(r"^\s*(?:meeting )?(?:summary|总结|摘要|概要|会议总结)\s*(?:[:：]\s*(.*))?$", re.IGNORECASE)
_ACTIONS_HEADER = re.compile(
    r"^\s*(?:action items?|actions|next steps|to-?dos?|tasks|待办事项?|行动项|后续事项|任务)\s*(?:[:：]\s*(.*))?$", re.IGNORECASE
)
_MARKDOWN = re.compile(r"[*_#`]+")
_BULLET = re.compile(r"^\s*(?:[-*•·]|\d{1,2}[.)、]|[（(]\d{1,2}[)）])\s*(.+)$")
_NONE = re.compile(r"^(?:none|n/?a|nothing|no action items?|无|没有|暂无)\W*$", re.IGNORECASE)
_TEMPLATE = re.compile(r"<[^>]{3,60}>")  # the model copied "<one to three sentences>"
_LEAD_IN = re.compile(r"^(?:answer|assistant|a)\s*[:：]\s*", re.IGNORECASE)


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.findall(" ".join(text.split())) if s.strip()]


def _first(sentences: Sequence[str], count: int, chars: int) -> str:
    """The first `count` distinct sentences that fit in `chars` (a repeating model loops)."""
    kept: list[str] = []
    for sentence in sentences:
        if sentence in kept:
            continue
        if kept and len(" ".join([*kept, sentence])) > chars:
            break
        kept.append(sentence)
        if len(kept) == count:
            break
    text = "".join(kept) if all(re.search(f"[{_HAN}]", s) for s in kept) else " ".join(kept)
    return text if len(text) <= chars else text[: chars - 1].rstrip() + "…"


def clean_answer(text: str) -> str:
    """A spoken-length answer: lead-in and markdown removed, a few sentences, no repeats."""
    text = _LEAD_IN.sub("", text.strip())
    text = _MARKDOWN.sub("", text)
    paragraph = next((p for p in re.split(r"\n\s*\n", text) if p.strip()), "")
    return _first(_sentences(paragraph), ANSWER_SENTENCES, ANSWER_CHARS)


def _item(text: str) -> str:
    item = text.strip()
    return item if len(item) <= MAX_ITEM_CHARS else item[: MAX_ITEM_CHARS - 1].rstrip() + "…"


def _sections(lines: Sequence[str]) -> tuple[bool, list[str], list[str]]:
    """(headers found, summary lines, item texts) of a reply in the asked format."""
    summary_parts: list[str] = []
    items: list[str] = []
    section = ""
    found = False
    for line in lines:
        if match := _SUMMARY_HEADER.match(line):
            section, found = "summary", True
            summary_parts.append(match.group(1) or "")
        elif match := _ACTIONS_HEADER.match(line):
            section, found = "actions", True
            items += [match.group(1)] if (match.group(1) or "").strip() else []
        elif section == "summary":
            summary_parts.append(line)
        elif section == "actions":
            if bullet := _BULLET.match(line):
                items.append(bullet.group(1))
            elif line.strip() and items:
                section = "done"  # past the list: the model went on talking
    return found, summary_parts, items


def parse_notes(text: str) -> tuple[str, tuple[str, ...]]:
    """(summary, action items) from a model's reply, or UnparseableNotes.

    With the headers: the text after SUMMARY, the bullets after ACTION ITEMS
    (up to the first line that is neither, where a ramble starts). Without:
    the first paragraph is the summary and bullet lines are the items. Either
    way the summary is cut to a few sentences."""
    lines = [_MARKDOWN.sub("", line).rstrip() for line in text.strip().splitlines()]
    found, summary_parts, items = _sections(lines)
    if not found:
        paragraphs = [p for p in re.split(r"\n\s*\n", "\n".join(lines)) if p.strip()]
        first = paragraphs[0] if paragraphs else ""
        summary_parts = [line for line in first.splitlines() if not _BULLET.match(line)]
        items = [m.group(1) for line in lines if (m := _BULLET.match(line))]
    summary = _first(_sentences(" ".join(p.strip() for p in summary_parts if p.strip())), SUMMARY_SENTENCES, SUMMARY_CHARS)
    if not summary:
        raise UnparseableNotes("no summary in the reply")
    if _TEMPLATE.search(summary):
        raise UnparseableNotes("the reply repeats the format's template")
    kept: list[str] = []
    for raw in items:
        item = _item(raw)
        if item and not _NONE.match(item) and not _TEMPLATE.search(item) and item not in kept:
            kept.append(item)
    return summary, tuple(kept[:MAX_ACTION_ITEMS])

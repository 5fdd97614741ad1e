"""Per-device glossary: terms the wearer wants translated their way
("Sightline" stays "Sightline", "glasses" is "gafas" not "vasos").

Entries are GlossaryEntry protobufs in the JetStream KV bucket "glossary",
keyed `<device>.<source>.<target>.<base64url(casefolded term)>` so any
term (spaces, CJK, dots) makes a valid, token-safe key and a device's
entries can be listed by prefix. The service mirrors the bucket through a
KV watch, like the device registry: applying the glossary costs a regex,
never a KV round trip.

How a term overrides the engine, for every engine alike: before
translation each glossary term in the text is replaced by a placeholder
⟦n⟧ that engines pass through (Apertium and CC-CEDICT as unknown tokens,
the LLM by instruction); afterwards the placeholder becomes the glossary's
translation. The router checks that every placeholder came back, and
treats an engine that lost one as failed (the next engine answers).
Post-substituting the engine's own rendering instead would need to know
how the engine translated the term in context, which none of them says.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass

from google.protobuf.message import DecodeError
from nats.js.client import JetStreamContext
from nats.js.errors import KeyNotFoundError
from sightline.v1.translation_pb2 import GlossaryEntry
from sightline_runtime.streams import GLOSSARY, ensure_bucket
from sightline_runtime.subjects import DEVICE_ID_PATTERN, check_device_id

from sightline_translation.engines import PLACEHOLDER
from sightline_translation.languages import Pair, primary

log = logging.getLogger(__name__)

MAX_TERM_CHARS = 100
MAX_TRANSLATION_CHARS = 200
MAX_TERMS_PER_TEXT = 100
# Letters and digits of Latin scripts: a term made of them matches whole words only.
_LATIN = r"0-9A-Za-z\u00c0-\u024f"


class GlossaryError(ValueError):
    pass


def term_key(term: str) -> str:
    return base64.urlsafe_b64encode(term.strip().casefold().encode()).decode().rstrip("=")


def entry_key(device_id: str, pair: Pair, term: str) -> str:
    return f"{check_device_id(device_id)}.{pair.source}.{pair.target}.{term_key(term)}"


def neutralise(text: str) -> str:
    """Placeholder brackets typed by a user are not placeholders."""
    return text.replace("⟦", "[").replace("⟧", "]")


@dataclass(frozen=True)
class Protected:
    """A text with glossary terms replaced by placeholders."""

    text: str
    slots: tuple[GlossaryEntry, ...] = ()

    @property
    def terms(self) -> list[str]:
        return [entry.term for entry in self.slots]

    def restore(self, translated: str) -> str:
        def put_back(match: re.Match[str]) -> str:
            n = int(match.group(1))
            return self.slots[n].translation if n < len(self.slots) else match.group(0)

        return PLACEHOLDER.sub(put_back, translated) if self.slots else translated


class _Matcher:
    def __init__(self, entries: Iterable[GlossaryEntry]) -> None:
        self.by_term = {e.term.casefold(): e for e in entries}
        alternatives = []
        for term in sorted(self.by_term, key=len, reverse=True):  # longest term wins
            pattern = re.escape(term)
            if re.match(f"[{_LATIN}]", term):
                pattern = f"(?<![{_LATIN}])" + pattern
            if re.search(f"[{_LATIN}]$", term):
                pattern += f"(?![{_LATIN}])"
            alternatives.append(pattern)
        self.regex = re.compile("|".join(alternatives), re.IGNORECASE)

    def protect(self, text: str) -> Protected:
        slots: list[GlossaryEntry] = []
        numbers: dict[str, int] = {}

        def replace(match: re.Match[str]) -> str:
            entry = self.by_term.get(match.group(0).casefold())
            if entry is None or (entry.term.casefold() not in numbers and len(slots) >= MAX_TERMS_PER_TEXT):
                return match.group(0)
            key = entry.term.casefold()
            if key not in numbers:
                numbers[key] = len(slots)
                slots.append(entry)
            return f"⟦{numbers[key]}⟧"

        return Protected(self.regex.sub(replace, text), tuple(slots))


def validate_entry(device_id: str, source: str, target: str, term: str, translation: str) -> tuple[Pair, GlossaryEntry]:
    check_device_id(device_id)
    pair = Pair(primary(source), primary(target))
    if pair.source == pair.target:
        raise GlossaryError("source and target language are the same")
    term, translation = term.strip(), translation.strip()
    if not term or not translation:
        raise GlossaryError("term and translation must not be empty")
    if len(term) > MAX_TERM_CHARS or len(translation) > MAX_TRANSLATION_CHARS:
        raise GlossaryError(f"term is limited to {MAX_TERM_CHARS} and translation to {MAX_TRANSLATION_CHARS} characters")
    if any(not ch.isprintable() for ch in term + translation) or PLACEHOLDER.search(term + translation) or "⟦" in term + translation:
        raise GlossaryError("term and translation must be printable text without ⟦ ⟧")
    return pair, GlossaryEntry(source_language=pair.source, target_language=pair.target, term=term, translation=translation)


def _parse(key: str, value: bytes) -> tuple[str, Pair, GlossaryEntry] | None:
    parts = key.split(".", 3)
    entry = GlossaryEntry()
    try:
        entry.ParseFromString(value)
    except DecodeError:
        entry = None
    if len(parts) != 4 or not DEVICE_ID_PATTERN.fullmatch(parts[0]) or entry is None:
        log.error("glossary entry is not a GlossaryEntry under a valid key; ignoring it", extra={"key": key[:200]})
        return None
    pair = Pair(parts[1], parts[2])
    if (entry.source_language, entry.target_language) != pair or term_key(entry.term) != parts[3]:
        log.error("glossary entry does not match its key; ignoring it", extra={"key": key[:200]})
        return None
    return parts[0], pair, entry


class Glossary:
    """The admin API (add, remove, list: straight to the KV) and, once
    started, the service's mirror of the whole bucket (protect)."""

    def __init__(self, js: JetStreamContext, *, replicas: int = 1) -> None:
        self._js = js
        self._replicas = replicas
        self._kv = None
        self._mirror: dict[tuple[str, Pair], dict[str, GlossaryEntry]] = {}
        self._matchers: dict[tuple[str, Pair], _Matcher] = {}
        self._watch_task: asyncio.Task[None] | None = None
        self._synced = asyncio.Event()

    async def open(self) -> Glossary:
        if self._kv is None:
            self._kv = await ensure_bucket(self._js, GLOSSARY, replicas=self._replicas)
        return self

    # --- the service's mirror ---
    async def start(self) -> None:
        await self.open()
        watcher = await self._kv.watchall()
        self._watch_task = asyncio.create_task(self._follow(watcher), name="glossary-watch")
        await self._synced.wait()

    async def stop(self) -> None:
        if self._watch_task is not None:
            self._watch_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch_task

    @property
    def synced(self) -> bool:
        return self._synced.is_set()

    async def _follow(self, watcher) -> None:
        try:
            async for entry in watcher:
                if entry is None:  # the initial values are in
                    self._synced.set()
                    continue
                self._apply(entry.key, None if entry.operation in ("DEL", "PURGE") else entry.value)
        finally:
            with contextlib.suppress(Exception):
                await watcher.stop()

    def _apply(self, key: str, value: bytes | None) -> None:
        parts = key.split(".", 3)
        if len(parts) != 4:
            return
        scope = (parts[0], Pair(parts[1], parts[2]))
        self._matchers.pop(scope, None)
        if not value:
            self._mirror.get(scope, {}).pop(parts[3], None)
            return
        parsed = _parse(key, value)
        if parsed is not None:
            self._mirror.setdefault(scope, {})[parts[3]] = parsed[2]

    def protect(self, device_id: str, pair: Pair, text: str) -> Protected:
        scope = (device_id, pair)
        entries = self._mirror.get(scope)
        if not entries:
            return Protected(text)
        matcher = self._matchers.get(scope)
        if matcher is None:
            matcher = self._matchers[scope] = _Matcher(entries.values())
        return matcher.protect(text)

    # --- administration (tests, the CLI) ---
    async def add(self, device_id: str, source: str, target: str, term: str, translation: str) -> GlossaryEntry:
        pair, entry = validate_entry(device_id, source, target, term, translation)
        await self.open()
        key = entry_key(device_id, pair, entry.term)
        await self._kv.put(key, entry.SerializeToString())
        self._apply(key, entry.SerializeToString())
        return entry

    async def remove(self, device_id: str, source: str, target: str, term: str) -> bool:
        pair = Pair(primary(source), primary(target))
        await self.open()
        key = entry_key(device_id, pair, term)
        try:
            await self._kv.get(key)
        except KeyNotFoundError:
            return False
        await self._kv.delete(key)
        self._apply(key, None)
        return True

    async def list(self, device_id: str) -> list[GlossaryEntry]:
        await self.open()
        # A watch filtered by the server on the device's keys (nats-py's
        # keys(filters=...) only tests substrings on the client).
        watcher = await self._kv.watch(f"{check_device_id(device_id)}.>", ignore_deletes=True)
        entries = []
        try:
            async for stored in watcher:
                if stored is None:  # all current values delivered
                    break
                parsed = _parse(stored.key, stored.value) if stored.value else None
                if parsed is not None:
                    entries.append(parsed[2])
        finally:
            await watcher.stop()
        return sorted(entries, key=lambda e: (e.source_language, e.target_language, e.term.casefold()))

"""Per-device glossary: terms the wearer wants translated their way
("Sightline" stays "Sightline", "glasses" is "gafas" not "vasos").

Storage (keys, validation, add/remove/list) is sightline_runtime.glossary,
shared with the CLI. The service mirrors the bucket through a KV watch,
like the device registry: applying the glossary costs a regex, never a KV
round trip.

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

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass

from nats.js.client import JetStreamContext
from sightline.v1.translation_pb2 import GlossaryEntry
from sightline_runtime.glossary import GlossaryError, GlossaryStore, entry_key, parse_entry, term_key, validate_entry
from sightline_runtime.kv_mirror import KvFollower

from sightline_translation.engines import PLACEHOLDER
from sightline_translation.languages import Pair

log = logging.getLogger(__name__)

MAX_TERM_CHARS = 100
MAX_TRANSLATION_CHARS = 200
MAX_TERMS_PER_TEXT = 100
# Letters and digits of Latin scripts: a term made of them matches whole words only.
_LATIN = r"0-9A-Za-z\u00c0-\u024f"


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


class Glossary(GlossaryStore):
    """The store (add, remove, list) plus, once started, the service's
    mirror of the whole bucket (protect)."""

    def __init__(self, js: JetStreamContext, *, replicas: int = 1) -> None:
        super().__init__(js, replicas=replicas)
        self._mirror: dict[tuple[str, Pair], dict[str, GlossaryEntry]] = {}
        self._matchers: dict[tuple[str, Pair], _Matcher] = {}
        self._follower = KvFollower("glossary", self._apply)

    # --- the service's mirror ---
    async def start(self) -> None:
        await self.open()
        await self._follower.start(self._kv)

    async def stop(self) -> None:
        await self._follower.stop()

    @property
    def synced(self) -> bool:
        return self._follower.synced

    def _stored(self, key: str, value: bytes | None) -> None:
        self._apply(key, value)

    def _apply(self, key: str, value: bytes | None) -> None:
        parts = key.split(".", 3)
        if len(parts) != 4:
            return
        scope = (parts[0], Pair(parts[1], parts[2]))
        self._matchers.pop(scope, None)
        if not value:
            self._mirror.get(scope, {}).pop(parts[3], None)
            return
        parsed = parse_entry(key, value)
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


__all__ = ["Glossary", "GlossaryError", "Protected", "entry_key", "neutralise", "term_key", "validate_entry"]

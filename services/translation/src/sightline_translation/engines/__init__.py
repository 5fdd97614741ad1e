"""Translation engines behind one small interface.

An engine translates a batch of texts for one language pair it supports.
It is created from settings, started once (load dictionaries, spawn
processes, probe) and closed at shutdown. Failures raise EngineError; the
router then tries the next engine of the route.

Placeholders: the glossary replaces protected terms by tokens like ⟦0⟧
before an engine sees the text. Every engine must pass them through
unchanged; the router checks that they came back.
"""

from __future__ import annotations

import abc
import re
from collections.abc import Iterable, Sequence
from enum import StrEnum

from sightline_translation.languages import Pair

PLACEHOLDER = re.compile(r"⟦\s*(\d{1,3})\s*⟧")
# The same token without a capturing group, for embedding in tokenizers.
PLACEHOLDER_INLINE = r"⟦\s*\d{1,3}\s*⟧"


class Lane(StrEnum):
    """Who is waiting. Engines with a serial resource (one Apertium process)
    keep one per lane, so a storm of partials never queues ahead of a final."""

    FINAL = "final"
    PARTIAL = "partial"


class EngineError(Exception):
    """The engine could not translate this batch; another engine may."""

    reason = "error"


class EngineTimeout(EngineError):
    reason = "timeout"


class EngineGarbage(EngineError):
    """The engine answered, but not with a usable translation."""

    reason = "garbage"


class EngineUnavailable(EngineError):
    """Not tried: the engine is known to be down (circuit open)."""

    reason = "unavailable"


class Engine(abc.ABC):
    name: str = ""

    def __init__(self, pairs: Iterable[Pair]) -> None:
        self.pairs = frozenset(pairs)

    def supports(self, pair: Pair) -> bool:
        return pair in self.pairs

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Load models or processes; raise when the engine cannot work."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release processes and connections."""

    def healthy(self) -> bool:
        return True

    @abc.abstractmethod
    async def translate(self, texts: Sequence[str], pair: Pair, *, lane: Lane = Lane.FINAL) -> list[str]:
        """One translation per text, in order."""

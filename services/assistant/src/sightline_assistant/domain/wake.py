"""Is a final transcript addressed to the assistant? The wake phrase at its start.

Matching ignores case, punctuation and spaces, because ASR spells the same
words many ways: "Hey Sightline, ...", "hey sight line ...", "你好，sightline"
and "你好 Sight Line。" all wake. A spelled match must end on a word boundary:
"hey sightlines are nice" is heard by sound only.

A Latin phrase the recogniser did not spell ("Hayside Line, take a photo")
is matched by sound (sounds_like.py), and the Wake says so: the handler
obeys such a wake only when it understood the command with confidence.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from sightline_assistant.domain.sounds_like import SoundsLike

DEFAULT_WAKE_PHRASES: tuple[str, ...] = (
    "hey sightline",
    "hi sightline",
    "ok sightline",
    "okay sightline",
    "你好 sightline",
    "嘿 sightline",
)
# Fillers ASR keeps before the wake phrase ("um, hey sightline").
_FILLERS: tuple[str, ...] = ("um", "uh", "er", "erm", "嗯", "呃", "那个")
# What is cut between the wake phrase and the command.
_LEADING = " \t,，.。!！?？:：;；、-—~"


def _kept(char: str) -> bool:
    """Letters, digits and CJK characters count; punctuation and spaces don't."""
    return unicodedata.category(char)[0] in "LN"


def _compact(text: str) -> tuple[str, list[int]]:
    """The casefolded letters and digits of `text`, and where each one came from."""
    chars: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        if _kept(char):
            for folded in char.casefold():
                chars.append(folded)
                origin.append(index)
    return "".join(chars), origin


def _latin(char: str) -> bool:
    return char.isascii() and char.isalnum()


def _rest(after: str) -> str:
    """What follows a phrase that ends the transcript's words: "" for "Hey Sightline.", but
    "Hey Sightline 🤖🔥" said something, if no words."""
    rest = after.strip(_LEADING).strip()
    if not any(_kept(c) for c in rest):
        return rest if any(unicodedata.category(c)[0] == "S" for c in rest) else ""
    return after.lstrip(_LEADING).strip()


_FIRST_WORD = re.compile(r"\s*(\w+)")


@dataclass(frozen=True)
class Wake:
    """A transcript addressed to the assistant: the command after the phrase ("" for the phrase
    alone), and whether the phrase was only heard by sound (the handler asks more of those)."""

    command: str
    by_sound: bool = False


class WakePhrases:
    """Detects and strips the configured wake phrases."""

    def __init__(self, phrases: Sequence[str] = DEFAULT_WAKE_PHRASES) -> None:
        compact = [_compact(p)[0] for p in phrases]
        if not phrases or not all(compact):
            raise ValueError(f"wake phrases need letters or digits: {list(phrases)!r}")
        # Longest first, so "hey sightline" wins over a configured "hey".
        self.phrases = tuple(sorted(set(compact), key=len, reverse=True))
        self._fillers = tuple(_compact(f)[0] for f in _FILLERS)
        # Latin phrases long enough to match by sound; "你好 sightline" only as spelled.
        sounds = [SoundsLike(p) for p in phrases if p.isascii() and any(c.isalpha() for c in p)]
        self._sounds = tuple(sorted((s for s in sounds if s.usable), key=lambda s: len(s.key), reverse=True))

    def command(self, transcript: str) -> str | None:
        """The command after the wake phrase, or None when the transcript is not addressed
        to the assistant. "" means the wearer said only the wake phrase (open command mode)."""
        wake = self.heard(transcript)
        return None if wake is None else wake.command

    def heard(self, transcript: str) -> Wake | None:
        """The wake phrase as spelled, else as it sounds (see SoundsLike), with the command after it."""
        spelled = self._spelled(transcript)
        if spelled is not None:
            return Wake(spelled)
        for start in self._word_starts(transcript):
            for sound in self._sounds:
                match = sound.match(transcript, start)
                if match is not None:
                    return Wake(_rest(transcript[match.end :]), by_sound=True)
        return None

    def _spelled(self, transcript: str) -> str | None:
        compact, origin = _compact(transcript)
        for start in self._starts(compact):
            for phrase in self.phrases:
                if not compact.startswith(phrase, start):
                    continue
                end = start + len(phrase)  # index into compact of the first char after the phrase
                after = origin[end - 1] + 1
                if end == len(compact):
                    return _rest(transcript[after:])
                # "hey sightlines": the phrase ends inside a Latin word; by sound, perhaps (the
                # recogniser writes "Hey, sightlines start..." for "Hey, Sightline. Start...").
                if _latin(transcript[after - 1]) and after < len(transcript) and _latin(transcript[after]):
                    continue
                return transcript[after:].lstrip(_LEADING).strip()
        return None

    def _word_starts(self, transcript: str) -> list[int]:
        """Where the phrase may begin: the start, or after a filler ("um, hayside line")."""
        starts = [0]
        first = _FIRST_WORD.match(transcript)
        if first and first.group(1).casefold() in _FILLERS:
            starts.append(first.end())
        return starts

    def _starts(self, compact: str) -> list[int]:
        starts = [0]
        for filler in self._fillers:
            if compact.startswith(filler):
                starts.append(len(filler))
        return starts

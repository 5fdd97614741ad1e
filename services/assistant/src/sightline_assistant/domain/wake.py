"""Is a final transcript addressed to the assistant? The wake phrase at its start.

Matching ignores case, punctuation and spaces, because ASR spells the same
words many ways: "Hey Sightline, ...", "hey sight line ...", "你好，sightline"
and "你好 Sight Line。" all wake. A match must end on a word boundary, so
"hey sightlines are nice" is a caption, not a command.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

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


class WakePhrases:
    """Detects and strips the configured wake phrases."""

    def __init__(self, phrases: Sequence[str] = DEFAULT_WAKE_PHRASES) -> None:
        compact = [_compact(p)[0] for p in phrases]
        if not phrases or not all(compact):
            raise ValueError(f"wake phrases need letters or digits: {list(phrases)!r}")
        # Longest first, so "hey sightline" wins over a configured "hey".
        self.phrases = tuple(sorted(set(compact), key=len, reverse=True))
        self._fillers = tuple(_compact(f)[0] for f in _FILLERS)

    def command(self, transcript: str) -> str | None:
        """The command after the wake phrase, or None when the transcript is not addressed
        to the assistant. "" means the wearer said only the wake phrase (open command mode)."""
        compact, origin = _compact(transcript)
        for start in self._starts(compact):
            for phrase in self.phrases:
                if not compact.startswith(phrase, start):
                    continue
                end = start + len(phrase)  # index into compact of the first char after the phrase
                after = origin[end - 1] + 1
                if end == len(compact):
                    # "Hey Sightline." is the phrase alone; "Hey Sightline 🤖🔥" said something, if no words.
                    rest = transcript[after:].strip(_LEADING).strip()
                    return rest if any(unicodedata.category(c)[0] == "S" for c in rest) else ""
                # "hey sightlines": the phrase ends inside a Latin word.
                if _latin(transcript[after - 1]) and after < len(transcript) and _latin(transcript[after]):
                    continue
                return transcript[after:].lstrip(_LEADING).strip()
        return None

    def _starts(self, compact: str) -> list[int]:
        starts = [0]
        for filler in self._fillers:
            if compact.startswith(filler):
                starts.append(len(filler))
        return starts

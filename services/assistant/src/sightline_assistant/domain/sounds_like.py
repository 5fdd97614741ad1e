"""Does the start of a transcript sound like a Latin-script wake phrase?

Speech recognisers spell a brand name however they like: Moonshine hears
"Hey Sightline" as "Hayside Line", "Hey, sidelined", "High sidesline" or
"Hazeide Line". Compared by sound (Metaphone keys, from jellyfish), those
are the phrase: "HSTLN" for all of them, or one added sound away.

The match is strict on purpose, since every false wake turns a caption into
a command: the same first sound, at most one sound added (never one changed
or missing, so "Hey Stella, how..." is not "Hey Sightline"), and only for
phrases of four sounds or more. The handler asks more of a wake heard this way (a
command it understood with confidence), so a near miss stays a caption.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import jellyfish

# Words as the recogniser writes them ("it's", "sight-line" as two words).
_WORD = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)?")
# At most this many words of the transcript can make up the phrase.
_MAX_WORDS = 4
_MIN_SOUNDS = 4


def sound_key(words: list[str]) -> str:
    """The Metaphone key of words said one after the other."""
    return "".join(jellyfish.metaphone(word.replace("’", "'")) for word in words)


@dataclass(frozen=True)
class SoundMatch:
    end: int  # index in the transcript just after the last word of the phrase
    distance: int  # sounds added


class SoundsLike:
    """Matches the start of a transcript against one phrase by sound."""

    def __init__(self, phrase: str) -> None:
        words = _WORD.findall(phrase)
        if not words or not phrase.isascii():
            raise ValueError(f"sound matching needs a Latin-script phrase: {phrase!r}")
        self.phrase = phrase
        self.key = sound_key(words)

    @property
    def usable(self) -> bool:
        """Short phrases ("ok glasses" is four sounds) match by spelling only below this."""
        return len(self.key) >= _MIN_SOUNDS

    def match(self, text: str, start: int = 0) -> SoundMatch | None:
        """The best match of the phrase with the words from `start` (only punctuation
        before the first of them), or None."""
        if not self.usable:
            return None
        words = list(_WORD.finditer(text, start))[:_MAX_WORDS]
        if not words or text[start : words[0].start()].strip(" \t,，.。!！?？:：;；、-—~"):
            return None
        best: SoundMatch | None = None
        for count in range(1, len(words) + 1):
            key = sound_key([w.group() for w in words[:count]])
            if len(key) < len(self.key) or key[0] != self.key[0]:
                continue  # a sound missing, or another first sound: not the phrase
            if len(key) > len(self.key) + 1:
                break  # more words only add sounds
            if key == self.key:
                return SoundMatch(end=words[count - 1].end(), distance=0)
            if best is None and len(key) == len(self.key) + 1 and _within(self.key, key):
                best = SoundMatch(end=words[count - 1].end(), distance=1)
        return best


def _within(short: str, long: str) -> bool:
    """`short` is `long` with one sound left out ("HSTLN" in "HSTLNT" and "HSTSLN")."""
    sounds = iter(long)
    return all(sound in sounds for sound in short)

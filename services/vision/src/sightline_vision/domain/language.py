"""Which language a piece of text read off a photo is in, by its script.

The OCR engines read Chinese and Latin script. A region is "zh" when Han
characters dominate it and "en" when Latin letters do; digits, punctuation
and other scripts tell nothing ("" = unknown, left to the translator). A
Han character carries about as much as a short word, so one counts as three
letters: "禁止吸烟 No Smoking" is a Chinese sign with an English gloss, and
the Chinese is the text the wearer could not read.
"""

from __future__ import annotations

import unicodedata

_HAN_WEIGHT = 3


def _is_han(char: str) -> bool:
    code = ord(char)
    return (
        0x4E00 <= code <= 0x9FFF  # CJK unified ideographs
        or 0x3400 <= code <= 0x4DBF  # extension A
        or 0xF900 <= code <= 0xFAFF  # compatibility ideographs
        or 0x20000 <= code <= 0x3134F  # extensions B to G
    )


def _is_latin(char: str) -> bool:
    if char.isascii():
        return char.isalpha()
    return char.isalpha() and unicodedata.name(char, "").startswith("LATIN ")


def text_language(text: str) -> str:
    """ "zh", "en" or "" (unknown)."""
    han = sum(1 for char in text if _is_han(char))
    latin = sum(1 for char in text if _is_latin(char))
    if han == 0 and latin == 0:
        return ""
    return "zh" if han * _HAN_WEIGHT >= latin else "en"

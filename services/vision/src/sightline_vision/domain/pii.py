"""Personal data read off a photo, masked before the text is stored or sent.

A photo of a business card, a receipt or a parcel label carries phone
numbers, e-mail addresses and card numbers of people who never agreed to be
indexed. They are replaced by "*", one per character, so the text keeps its
length (a label drawn over the region still fits) and says that something
was there. What is masked:

- e-mail addresses;
- payment card numbers: 13 to 19 digits, single spaces or dashes allowed
  between them, passing the Luhn check (so an order number rarely matches);
- phone numbers: Chinese mobiles (1[3-9] and 9 more digits, with an optional
  +86/0086 prefix) and international numbers written with a leading "+"
  (7 to 15 digits in all, with spaces, dots, dashes or brackets).

Ordinary text (prices, dates, times, short numbers, words) is left alone:
every pattern needs a long digit run or an "@" between word characters.
"""

from __future__ import annotations

import re

_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}(?![A-Za-z0-9])")
# Digits with at most one space or dash between two of them.
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d])")
_CN_MOBILE = re.compile(r"(?<![\d+])(?:(?:\+|00)86[ -]?)?1[3-9]\d(?:[ -]?\d){8}(?!\d)")
_INTERNATIONAL = re.compile(r"(?<![\w+])\+\d(?:[ .\-()]{0,2}\d){6,14}(?!\d)")
_MASK = "*"


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(digits)):
        value = int(char)
        if i % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _is_card(match: re.Match[str]) -> bool:
    digits = re.sub(r"\D", "", match.group())
    return 13 <= len(digits) <= 19 and luhn_valid(digits)


def _spans(text: str) -> list[tuple[int, int]]:
    spans = [m.span() for m in _EMAIL.finditer(text)]
    spans += [m.span() for m in _CARD.finditer(text) if _is_card(m)]
    spans += [m.span() for m in _CN_MOBILE.finditer(text)]
    spans += [m.span() for m in _INTERNATIONAL.finditer(text)]
    return spans


def mask_personal_data(text: str) -> tuple[str, bool]:
    """text with personal data replaced by "*" (same length), and whether
    anything was masked."""
    spans = _spans(text)
    if not spans:
        return text, False
    chars = list(text)
    for start, end in spans:
        chars[start:end] = _MASK * (end - start)
    return "".join(chars), True

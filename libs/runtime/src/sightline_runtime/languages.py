"""Language tags as keys (routing, glossary scopes).

Engines are chosen per language pair. Routing uses the primary subtag of a
BCP-47 tag, lower-cased ("en-US" -> "en", "zh-Hans-CN" -> "zh"): none of
the engines here distinguishes regional variants, and "en-GB" speech must
still find the en->es route.
"""

from __future__ import annotations

import re
from typing import NamedTuple

# A pragmatic BCP-47 shape: 2-3 letter primary language, then subtags.
_TAG = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*$")


class InvalidLanguage(ValueError):
    pass


class Pair(NamedTuple):
    source: str
    target: str

    def __str__(self) -> str:
        return f"{self.source}-{self.target}"


def primary(tag: str) -> str:
    """The routing key of a language tag, or raise InvalidLanguage."""
    tag = tag.strip()
    if not _TAG.fullmatch(tag):
        raise InvalidLanguage(f"{tag[:40]!r} is not a BCP-47 language tag")
    return re.split(r"[-_]", tag, maxsplit=1)[0].lower()


def parse_pair(text: str) -> Pair:
    """ "en-es" -> Pair("en", "es") (primary subtags only)."""
    parts = text.strip().split("-")
    if len(parts) != 2:
        raise InvalidLanguage(f"{text!r} is not a language pair like 'en-es'")
    return Pair(primary(parts[0]), primary(parts[1]))

"""What the full-text index sees: OCR text and tags turned into plain tokens.

Both databases get the same, already tokenised text (tokens separated by
spaces), so SQLite's unicode61 tokenizer and PostgreSQL's 'simple' parser
agree on every token and a query means the same on both:

- Latin and other spaced scripts: runs of letters and digits, case-folded,
  accents dropped ("Café" -> "cafe").
- Chinese and Japanese have no spaces and neither tokenizer segments them,
  so a run of Han or kana is indexed as its character bigrams, in order, and
  then its single characters: "禁止吸烟" -> "禁止 止吸 吸烟" + "禁 止 吸 烟".
  A query run of two or more characters becomes the phrase of its bigrams
  (adjacent, in order: an exact substring of one run of text); a single
  character matches the unigrams. So "吸烟" finds "禁止吸烟".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

# Letters and digits, no underscore: what both tokenizers treat as word characters.
_WORD = re.compile(r"[^\W_]+")
# Han (incl. extension A and compatibility), hiragana, katakana: scripts written without spaces.
_UNSPACED = re.compile(r"([\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u309f\u30a0-\u30ff\u31f0-\u31ff]+)")

# A query term is one token, or a phrase of tokens that must be adjacent and in order.
Term = tuple[str, ...]


def _fold(text: str) -> str:
    # Compatibility forms first (full-width "ＥＸＩＴ", "ﬁ", "№"), then case, then accents.
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    return unicodedata.normalize("NFC", "".join(ch for ch in decomposed if not unicodedata.combining(ch)))


def _runs(text: str) -> Iterable[tuple[str, bool]]:
    """(run, unspaced) pieces of text's words, in order."""
    for word in _WORD.findall(_fold(text)):
        for piece in _UNSPACED.split(word):
            if piece:
                yield piece, bool(_UNSPACED.fullmatch(piece))


def _bigrams(run: str) -> list[str]:
    return [run[i : i + 2] for i in range(len(run) - 1)]


def index_text(texts: Iterable[str]) -> str:
    """The text to index for a photo's OCR lines and tags."""
    tokens: list[str] = []
    unigrams: list[str] = []
    # Each line separately: a bigram never joins the end of one line to the start of the next.
    for text in texts:
        for run, unspaced in _runs(text):
            if unspaced:
                tokens.extend(_bigrams(run))
                unigrams.extend(run)
            else:
                tokens.append(run)
    # Unigrams after everything else, so they never sit between a run's bigrams.
    return " ".join(tokens + unigrams)


def query_terms(query: str) -> list[Term]:
    """The terms a query must all match (AND), duplicates dropped."""
    terms: list[Term] = []
    for run, unspaced in _runs(query):
        term = tuple(_bigrams(run)) if unspaced and len(run) > 1 else (run,)
        if term not in terms:
            terms.append(term)
    return terms


def quoted_terms(terms: Sequence[Term]) -> str:
    """Terms as quoted phrases, AND-ed: the syntax FTS5 MATCH and
    websearch_to_tsquery share. Tokens are letters and digits only, so
    quoting cannot be broken out of."""
    return " ".join('"' + " ".join(term) + '"' for term in terms)


def normalise_tag(tag: str) -> str:
    """A tag as stored and filtered: case-folded, single-spaced ("Egyptian  Cat" -> "egyptian cat")."""
    return " ".join(tag.casefold().split())

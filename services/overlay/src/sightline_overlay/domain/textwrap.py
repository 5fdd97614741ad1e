"""Wrapping text for a monocular HUD by display width.

Width is counted in cells: Latin letters take one, CJK ideographs, kana,
hangul and full-width forms take two (East Asian Width W/F, via wcwidth).
Latin words are kept whole where they fit; CJK text may break between any
two characters, except that closing punctuation never starts a line and
opening punctuation never ends one (kinsoku shori).
"""

from __future__ import annotations

import re
import unicodedata

from wcwidth import wcswidth, wcwidth

ELLIPSIS = "…"
# May not start a line (they close or trail the character before them).
NO_LINE_START = set("、。，．・：；？！）］｝〕〉》」』】〙〗ー…‥ゝゞヽヾ々,.:;?!)]}%％\"'")
# May not end a line (they open what follows).
NO_LINE_END = set("（［｛〔〈《「『【〘〖([{“‘")

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def sanitize(text: str) -> str:
    """NFC, no control or bidi-override characters, tabs as spaces."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    return _CONTROL.sub("", text)


def cell_width(text: str) -> int:
    width = wcswidth(text)
    if width >= 0:
        return width
    # wcswidth gives -1 when any character is non-printable; count those as 0.
    return sum(max(0, wcwidth(ch)) for ch in text)


def _is_wide(ch: str) -> bool:
    return wcwidth(ch) == 2


def _atoms(paragraph: str) -> list[str]:
    """Unbreakable pieces: a run of spaces, a Latin word, or one wide character."""
    atoms: list[str] = []
    for ch in paragraph:
        kind = "space" if ch == " " else "wide" if _is_wide(ch) else "narrow"
        prev = atoms[-1][-1] if atoms else ""
        prev_kind = "" if not prev else "space" if prev == " " else "wide" if _is_wide(prev) else "narrow"
        if atoms and kind == prev_kind and kind != "wide":
            atoms[-1] += ch
        else:
            atoms.append(ch)
    return atoms


def _tokens(paragraph: str) -> list[str]:
    """Atoms merged so that no line can start with closing punctuation or
    end with opening punctuation; every boundary left is a break opportunity."""
    tokens: list[str] = []
    glue_next = False
    for atom in _atoms(paragraph):
        if atom[0] == " ":
            tokens.append(atom)
            glue_next = False
            continue
        if tokens and tokens[-1][0] != " " and (glue_next or atom[0] in NO_LINE_START):
            tokens[-1] += atom
        else:
            tokens.append(atom)
        glue_next = atom[-1] in NO_LINE_END
    return tokens


def _hard_break(token: str, columns: int) -> list[str]:
    """Split a token wider than the line at character boundaries."""
    pieces: list[str] = []
    piece = ""
    for ch in token:
        if piece and cell_width(piece + ch) > columns:
            pieces.append(piece)
            piece = ""
        piece += ch
    if piece:
        pieces.append(piece)
    return pieces


def wrap(text: str, columns: int) -> list[str]:
    """Lines of at most `columns` cells each; explicit newlines are kept."""
    if columns < 2:
        raise ValueError("a HUD line needs at least 2 cells (one wide character)")
    lines: list[str] = []
    for raw_paragraph in sanitize(text).split("\n"):
        paragraph = raw_paragraph.strip()
        line = ""
        for token in _tokens(paragraph):
            candidate = line + token
            if cell_width(candidate.rstrip(" ")) <= columns:
                line = candidate
                continue
            if line.strip():
                lines.append(line.rstrip(" "))
            rest = token.lstrip(" ")
            if cell_width(rest) > columns:
                *full, rest = _hard_break(rest, columns)
                lines.extend(full)
            line = rest
        if line.strip() or not lines or paragraph == "":
            lines.append(line.rstrip(" "))
    # Drop blank lines at the ends; keep deliberate blank lines in between.
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    return lines


def longest_token(text: str) -> int:
    """Cells of the widest piece `wrap` keeps whole (a Latin word, a wide
    character with the punctuation glued to it): fewer columns break words."""
    pieces = (token for paragraph in sanitize(text).split("\n") for token in _tokens(paragraph.strip()) if token[0] != " ")
    return max((cell_width(token) for token in pieces), default=0)


def fit(lines: list[str], rows: int, columns: int) -> tuple[list[str], bool]:
    """At most `rows` lines; when cut, the last kept line ends with an ellipsis."""
    if len(lines) <= rows:
        return lines, False
    kept = lines[:rows]
    last = kept[-1]
    while last and cell_width(last + ELLIPSIS) > columns:
        last = last[:-1]
    kept[-1] = last.rstrip(" ") + ELLIPSIS
    return kept, True

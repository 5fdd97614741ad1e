"""The rolling caption region of one device.

Transcripts (ASR) and translations arrive separately and in any order, as
partials that grow and a final per utterance. Each utterance is one entry:
its partial text is replaced in place, its final is committed, and a
translation attaches to its utterance whenever it arrives. The region shows
the newest entries that fit, newest at the bottom; a long utterance shows
its tail (the words just spoken), marked truncated.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from sightline.v1.asr_pb2 import Transcript
from sightline.v1.display_pb2 import Caption, CaptionEntry, TextBlock
from sightline.v1.translation_pb2 import Translation

from sightline_overlay.domain.textwrap import ELLIPSIS, cell_width, wrap

# Committed utterances kept per device (the region rarely shows more than two).
MAX_ENTRIES = 4


@dataclass
class _Text:
    text: str = ""
    language: str = ""
    revision: int = 0
    final: bool = False

    def offer(self, text: str, language: str, revision: int, final: bool) -> bool:
        """Take a newer version; returns whether what is shown changed.

        A final always wins over partials; a partial must be strictly newer
        than what is held, so one that arrives late never rolls text back.
        """
        if self.final and not final:
            return False
        if not final and revision <= self.revision:
            return False
        changed = (text, language, final) != (self.text, self.language, self.final)
        self.text, self.language, self.final = text, language, final
        self.revision = max(self.revision, revision)
        return changed


@dataclass
class _Entry:
    utterance_id: str
    source: _Text = field(default_factory=_Text)
    translation: _Text = field(default_factory=_Text)
    engine: str = ""


class CaptionBoard:
    def __init__(self) -> None:
        self.entries: OrderedDict[str, _Entry] = OrderedDict()

    def _entry(self, utterance_id: str) -> _Entry:
        entry = self.entries.get(utterance_id)
        if entry is None:
            entry = self.entries[utterance_id] = _Entry(utterance_id)
            while len(self.entries) > MAX_ENTRIES:
                self.entries.popitem(last=False)
        return entry

    def on_transcript(self, transcript: Transcript) -> bool:
        """Returns whether the region changed."""
        if not transcript.utterance_id or not transcript.text.strip():
            return False
        entry = self._entry(transcript.utterance_id)
        return entry.source.offer(transcript.text, transcript.language, transcript.revision, transcript.is_final)

    def on_translation(self, translation: Translation) -> bool:
        if not translation.utterance_id or not translation.text.strip():
            return False
        entry = self._entry(translation.utterance_id)
        changed = entry.translation.offer(translation.text, translation.target_language, translation.revision, translation.is_final)
        if not entry.source.text and translation.source_text:
            # The translation overtook its transcript: show what it translated
            # (revision 0, so the transcript itself replaces it when it comes).
            entry.source.text, entry.source.language = translation.source_text, translation.source_language
            changed = True
        if changed:
            entry.engine = translation.engine
        return changed

    def render(self, columns: int, rows: int) -> Caption:
        """The entries that fit in rows x columns, newest at the bottom.

        The newest entry always shows, its translation getting at least half
        the rows; older entries fill the rows left above it.
        """
        shown: list[CaptionEntry] = []
        rows_left = rows
        for index, entry in enumerate(reversed(self.entries.values())):
            if rows_left <= 0:
                break
            source_lines = wrap(entry.source.text, columns) if entry.source.text else []
            translation_lines = wrap(entry.translation.text, columns) if entry.translation.text else []
            if not source_lines and not translation_lines:
                continue
            if index > 0 and len(source_lines) + len(translation_lines) > rows_left:
                break  # an older entry is shown whole or not at all
            # The source keeps up to half the rows (a sentence is usually two
            # lines); the translation, what the wearer reads, gets the rest.
            translation_rows = min(len(translation_lines), rows_left - min(len(source_lines), max(1, rows_left // 2)))
            source_rows = min(len(source_lines), rows_left - translation_rows)
            shown.append(
                CaptionEntry(
                    utterance_id=entry.utterance_id,
                    is_final=entry.source.final,
                    source=_tail(source_lines, source_rows, entry.source.language, columns),
                    translation=_tail(translation_lines, translation_rows, entry.translation.language, columns),
                    translation_engine=entry.engine,
                )
            )
            rows_left -= source_rows + translation_rows
        return Caption(entries=list(reversed(shown)))


def _tail(lines: list[str], rows: int, language: str, columns: int) -> TextBlock:
    """The last `rows` lines; when cut, the first shown line starts with an ellipsis."""
    if rows <= 0:
        return TextBlock(language=language, truncated=bool(lines))
    if len(lines) <= rows:
        return TextBlock(lines=lines, language=language)
    kept = lines[-rows:]
    first = kept[0]
    while first and cell_width(ELLIPSIS + first) > columns:
        first = first[1:]
    kept[0] = ELLIPSIS + first
    return TextBlock(lines=kept, language=language, truncated=True)

"""The rolling caption region of one device.

Transcripts (ASR) and translations arrive separately and in any order, as
partials that grow and a final per utterance. Each utterance is one entry:
its partial text is replaced in place, its final is committed, and a
translation attaches to its utterance whenever it arrives. The region shows
the newest entries that fit, newest at the bottom; a long utterance shows
its tail (the words just spoken), marked truncated.

A final whose translation is wanted but missing says why in place of the
translation: late (past the deadline), unavailable (no translation service
instance takes the transcripts), failed, or not offered for the pair. A
translation that arrives after all replaces the note.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from sightline.v1.asr_pb2 import Transcript
from sightline.v1.display_pb2 import Caption, CaptionEntry, TextBlock
from sightline.v1.translation_pb2 import Translation, TranslationStatus
from sightline_runtime.languages import InvalidLanguage, primary

from sightline_overlay.domain.textwrap import ELLIPSIS, cell_width, wrap

# Committed utterances kept per device (the region rarely shows more than two).
MAX_ENTRIES = 4

# What a caption says while its translation is missing (short: one HUD line).
LATE = "late"
UNAVAILABLE = "unavailable"
FAILED = "failed"
UNSUPPORTED = "unsupported"
NOTE_LANGUAGE = "en"
_NOTES = {
    LATE: "(translation late)",
    UNAVAILABLE: "(translation unavailable)",
    FAILED: "(translation failed)",
}
# Notes that no later check changes (only a translation arriving after all does).
_SETTLED_NOTES = {FAILED, UNSUPPORTED}


def note_text(note: str, source_language: str = "", target_language: str = "") -> str:
    if note == UNSUPPORTED:
        pair = f" {source_language}->{target_language}" if source_language and target_language else ""
        return f"(no translation{pair})"
    return _NOTES[note]


def wants_translation(source_language: str, target_language: str) -> bool:
    """Whether a transcript in `source_language` is to be translated into
    `target_language` (the transcript's, else the device's default), by the
    translation service's own rule: a target that differs in its primary
    language subtag. A tag that does not parse is still wanted: the
    translation service refuses it and says so, and the caption with it."""
    if not target_language.strip():
        return False
    try:
        return primary(source_language) != primary(target_language)
    except InvalidLanguage:
        return True


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
    # A final waiting for its translation: by when, and the subject its
    # transcript came on (whoever translates must be subscribed to it).
    expect_by: float | None = None
    subject: str = ""
    note: str = ""
    note_text: str = ""

    @property
    def waiting(self) -> bool:
        return self.expect_by is not None and not self.translation.final and self.note not in _SETTLED_NOTES

    def set_note(self, note: str, text: str = "") -> bool:
        text = text or (note_text(note) if note else "")
        changed = (note, text) != (self.note, self.note_text)
        self.note, self.note_text = note, text
        return changed


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
        if not translation.utterance_id:
            return False
        if translation.status in (TranslationStatus.TRANSLATION_STATUS_FAILED, TranslationStatus.TRANSLATION_STATUS_UNSUPPORTED):
            return self._no_translation(translation)
        if not translation.text.strip():
            return False
        entry = self._entry(translation.utterance_id)
        changed = entry.translation.offer(translation.text, translation.target_language, translation.revision, translation.is_final)
        if entry.translation.final:
            entry.expect_by = None
            changed = entry.set_note("") or changed
        if not entry.source.text and translation.source_text:
            # The translation overtook its transcript: show what it translated
            # (revision 0, so the transcript itself replaces it when it comes).
            entry.source.text, entry.source.language = translation.source_text, translation.source_language
            changed = True
        if changed:
            entry.engine = translation.engine
        return changed

    def _no_translation(self, translation: Translation) -> bool:
        """The translation service says this utterance gets no translation."""
        entry = self._entry(translation.utterance_id)
        if entry.translation.final:
            return False  # one did come (a redelivery that failed later says nothing new)
        changed = False
        if not entry.source.text and translation.source_text:
            entry.source.text, entry.source.language = translation.source_text, translation.source_language
            changed = True
        if translation.status == TranslationStatus.TRANSLATION_STATUS_UNSUPPORTED:
            text = note_text(UNSUPPORTED, translation.source_language, translation.target_language)
            return entry.set_note(UNSUPPORTED, text) or changed
        return entry.set_note(FAILED) or changed

    def expect_translation(self, utterance_id: str, *, deadline: float, subject: str, available: bool) -> bool:
        """A final that wants a translation: note it missing if nobody can
        translate it now, or once `deadline` passes. Returns whether the region changed."""
        entry = self.entries.get(utterance_id)
        if entry is None or entry.translation.final or entry.note in _SETTLED_NOTES:
            return False
        entry.expect_by, entry.subject = deadline, subject
        return entry.set_note("" if available else UNAVAILABLE)

    @property
    def waiting(self) -> bool:
        """Some final still waits for its translation (the caller re-checks it)."""
        return any(entry.waiting for entry in self.entries.values())

    def check_translations(self, now: float, available: Callable[[str], bool]) -> bool:
        """Re-check the finals waiting for a translation: unavailable while
        nobody takes their subject, late once past the deadline."""
        changed = False
        for entry in self.entries.values():
            if not entry.waiting:
                continue
            assert entry.expect_by is not None
            late = LATE if now >= entry.expect_by else ""
            note = late if available(entry.subject) else UNAVAILABLE
            changed = entry.set_note(note) or changed
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
            # A note replaces a partial translation: that one translated words the final may have changed.
            if entry.note and not entry.translation.final:
                translation_lines, translation_language = wrap(entry.note_text, columns), NOTE_LANGUAGE
            else:
                translation_lines = wrap(entry.translation.text, columns) if entry.translation.text else []
                translation_language = entry.translation.language
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
                    translation=_tail(translation_lines, translation_rows, translation_language, columns),
                    translation_engine="" if entry.note and not entry.translation.final else entry.engine,
                )
            )
            rows_left -= source_rows + translation_rows
        return Caption(entries=list(reversed(shown)))


def caption_region(board: CaptionBoard | None, columns: int, rows: int, *, notice: str = "", notice_id: str = "") -> Caption:
    """The caption region: the board's entries and, on the last rows, a
    notice (e.g. "Captions unavailable") when there is one."""
    if not notice:
        return board.render(columns, rows) if board is not None else Caption()
    lines = wrap(notice, columns)
    notice_rows = min(len(lines), rows)
    caption = board.render(columns, rows - notice_rows) if board is not None and rows > notice_rows else Caption()
    caption.entries.append(CaptionEntry(utterance_id=notice_id, is_final=True, source=_tail(lines, notice_rows, NOTE_LANGUAGE, columns)))
    return caption


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

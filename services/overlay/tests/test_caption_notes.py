"""A final whose translation is late, cannot come or failed says so on the
caption; a translation that arrives after all replaces the note; and the
region's "Captions unavailable" notice sits below the entries."""

from __future__ import annotations

import pytest
from sightline.v1.asr_pb2 import Transcript
from sightline.v1.translation_pb2 import TextOrigin, Translation, TranslationStatus
from sightline_overlay.domain.availability import CAPTIONS_NOTICE_ID, CAPTIONS_UNAVAILABLE
from sightline_overlay.domain.captions import CaptionBoard, caption_region, wants_translation

SUBJECT = "asr.final.a"


def final(utt: str, text: str) -> Transcript:
    return Transcript(utterance_id=utt, text=text, revision=3, is_final=True, language="en", target_language="es")


def translation(utt: str, text: str, *, final: bool = True, status: int = TranslationStatus.TRANSLATION_STATUS_OK) -> Translation:
    return Translation(
        utterance_id=utt,
        text=text,
        revision=3,
        is_final=final,
        source_language="en",
        target_language="es" if status != TranslationStatus.TRANSLATION_STATUS_UNSUPPORTED else "fr",
        origin=TextOrigin.TEXT_ORIGIN_SPEECH,
        engine="apertium" if text else "",
        status=status,
    )


def last(board: CaptionBoard, columns: int = 38, rows: int = 5) -> tuple[list[str], list[str], str, str]:
    entry = board.render(columns, rows).entries[-1]
    return list(entry.source.lines), list(entry.translation.lines), entry.translation.language, entry.translation_engine


def waiting_board(*, available: bool = True) -> CaptionBoard:
    board = CaptionBoard()
    board.on_transcript(final("u1", "Where is the station?"))
    board.expect_translation("u1", deadline=10.0, subject=SUBJECT, available=available)
    return board


def test_a_translation_in_time_shows_no_note():
    board = waiting_board()
    assert board.waiting
    assert board.check_translations(9.9, lambda subject: True) is False
    assert board.on_translation(translation("u1", "¿Dónde está la estación?"))
    assert not board.waiting
    assert last(board) == (["Where is the station?"], ["¿Dónde está la estación?"], "es", "apertium")


def test_past_the_deadline_the_caption_says_late_and_a_late_translation_replaces_it():
    board = waiting_board()
    assert board.check_translations(10.0, lambda subject: True) is True
    assert last(board) == (["Where is the station?"], ["(translation late)"], "en", "")
    assert board.check_translations(11.0, lambda subject: True) is False, "said once"
    assert board.on_translation(translation("u1", "¿Dónde está la estación?"))
    assert last(board)[1] == ["¿Dónde está la estación?"]
    assert not board.waiting


def test_nobody_to_translate_says_unavailable_at_once_and_late_once_someone_is_back():
    board = waiting_board(available=False)
    assert last(board)[1] == ["(translation unavailable)"]
    asked = []
    assert board.check_translations(5.0, lambda subject: asked.append(subject) or True) is True
    assert asked == [SUBJECT], "availability is asked for the subject the final came on"
    assert board.render(38, 5).entries[-1].translation.lines == [], "back before the deadline: no note yet"
    assert board.check_translations(10.0, lambda subject: False) is True
    assert last(board)[1] == ["(translation unavailable)"]


def test_a_partial_translation_is_replaced_by_the_note_not_shown_as_if_final():
    board = CaptionBoard()
    board.on_translation(translation("u1", "dónde es", final=False))
    board.on_transcript(final("u1", "Where is the station?"))
    board.expect_translation("u1", deadline=10.0, subject=SUBJECT, available=True)
    assert last(board)[1] == ["dónde es"], "within the deadline the partial translation stays"
    board.check_translations(10.0, lambda subject: True)
    assert last(board)[1] == ["(translation late)"]


@pytest.mark.parametrize(
    ("status", "note"),
    [
        (TranslationStatus.TRANSLATION_STATUS_FAILED, "(translation failed)"),
        (TranslationStatus.TRANSLATION_STATUS_UNSUPPORTED, "(no translation en->fr)"),
    ],
)
def test_a_failed_or_unsupported_translation_says_so_and_stays_said(status, note):
    board = waiting_board()
    assert board.on_translation(translation("u1", "", status=status))
    assert last(board)[1] == [note]
    assert not board.waiting, "nothing more to wait for"
    assert board.check_translations(99.0, lambda subject: False) is False
    assert board.on_translation(translation("u1", "¿Dónde está la estación?")), "one that comes after all still wins"
    assert last(board)[1] == ["¿Dónde está la estación?"]
    assert board.on_translation(translation("u1", "", status=status)) is False, "a later failure does not undo it"


def test_a_failure_for_an_utterance_not_seen_yet_shows_its_source():
    board = CaptionBoard()
    failed = translation("u9", "", status=TranslationStatus.TRANSLATION_STATUS_FAILED)
    failed.source_text = "Good morning"
    assert board.on_translation(failed)
    assert last(board)[:2] == (["Good morning"], ["(translation failed)"])


def test_a_translation_that_came_first_is_not_noted_missing():
    board = CaptionBoard()
    board.on_translation(translation("u1", "¿Dónde está la estación?"))
    board.on_transcript(final("u1", "Where is the station?"))
    assert board.expect_translation("u1", deadline=10.0, subject=SUBJECT, available=False) is False
    assert not board.waiting


@pytest.mark.parametrize(
    ("source", "target", "wanted"),
    [
        ("en", "es", True),
        ("en-US", "en-GB", False),
        ("en", "", False),
        ("en", "  ", False),
        ("zh-Hans", "en", True),
        ("en", "not a tag!", True),  # translation refuses it and says so
    ],
)
def test_which_finals_want_a_translation(source, target, wanted):
    assert wants_translation(source, target) is wanted


def test_the_notice_takes_the_last_row_below_the_entries():
    board = CaptionBoard()
    for n in range(3):
        board.on_transcript(final(f"u{n}", f"sentence number {n}"))
    region = caption_region(board, 38, 3, notice=CAPTIONS_UNAVAILABLE, notice_id=CAPTIONS_NOTICE_ID)
    assert [e.utterance_id for e in region.entries] == ["u1", "u2", CAPTIONS_NOTICE_ID]
    notice = region.entries[-1]
    assert (list(notice.source.lines), notice.source.language, notice.is_final) == (["Captions unavailable"], "en", True)
    assert list(notice.translation.lines) == []
    alone = caption_region(None, 38, 3, notice=CAPTIONS_UNAVAILABLE, notice_id=CAPTIONS_NOTICE_ID)
    assert [e.utterance_id for e in alone.entries] == [CAPTIONS_NOTICE_ID]
    one_row = caption_region(board, 38, 1, notice=CAPTIONS_UNAVAILABLE, notice_id=CAPTIONS_NOTICE_ID)
    assert [e.utterance_id for e in one_row.entries] == [CAPTIONS_NOTICE_ID], "a one-row region shows the notice only"
    assert caption_region(board, 38, 3) == board.render(38, 3)

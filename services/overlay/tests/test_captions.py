from hypothesis import given, settings
from hypothesis import strategies as st
from sightline.v1.asr_pb2 import Transcript
from sightline.v1.translation_pb2 import TextOrigin, Translation
from sightline_overlay.domain.captions import MAX_ENTRIES, CaptionBoard
from sightline_overlay.domain.textwrap import cell_width


def tr(utt, text, rev, final=False):
    return Transcript(utterance_id=utt, text=text, revision=rev, is_final=final, language="en")


def tl(utt, text, rev, final=False, source=""):
    return Translation(
        utterance_id=utt,
        text=text,
        revision=rev,
        is_final=final,
        target_language="es",
        source_text=source,
        origin=TextOrigin.TEXT_ORIGIN_SPEECH,
        engine="apertium",
    )


def shown(board, columns=38, rows=5):
    return [(e.utterance_id, list(e.source.lines), list(e.translation.lines), e.is_final) for e in board.render(columns, rows).entries]


def test_partials_are_replaced_in_place_and_the_final_commits():
    board = CaptionBoard()
    assert board.on_transcript(tr("u1", "where is", 1))
    assert board.on_transcript(tr("u1", "where is the", 2))
    assert board.on_transcript(tr("u1", "where is the station", 3, final=True))
    assert shown(board) == [("u1", ["where is the station"], [], True)]


def test_a_late_partial_never_rolls_text_back():
    board = CaptionBoard()
    board.on_transcript(tr("u1", "where is the", 2))
    assert not board.on_transcript(tr("u1", "where", 1))
    board.on_transcript(tr("u1", "where is the station", 3, final=True))
    assert not board.on_transcript(tr("u1", "where is the stat", 4))
    assert shown(board)[0][1] == ["where is the station"]


def test_translation_attaches_to_its_utterance_in_either_order():
    board = CaptionBoard()
    assert board.on_translation(tl("u1", "¿dónde está?", 1, source="where is it"))
    assert shown(board) == [("u1", ["where is it"], ["¿dónde está?"], False)]
    board.on_transcript(tr("u1", "where is it", 2, final=True))
    board.on_translation(tl("u1", "¿dónde está?", 2, final=True))
    assert shown(board) == [("u1", ["where is it"], ["¿dónde está?"], True)]
    assert board.render(38, 5).entries[0].translation_engine == "apertium"


def test_newest_utterance_is_at_the_bottom_and_old_ones_scroll_away():
    board = CaptionBoard()
    for i in range(MAX_ENTRIES + 3):
        board.on_transcript(tr(f"u{i}", f"sentence {i}", 1, final=True))
    entries = shown(board, rows=3)
    assert [e[0] for e in entries] == [f"u{MAX_ENTRIES}", f"u{MAX_ENTRIES + 1}", f"u{MAX_ENTRIES + 2}"]
    assert len(board.entries) == MAX_ENTRIES


def test_a_long_utterance_shows_its_latest_words():
    board = CaptionBoard()
    words = " ".join(f"word{i}" for i in range(60))
    board.on_transcript(tr("u1", words, 1))
    block = board.render(20, 3).entries[0].source
    assert block.truncated
    assert block.lines[-1].endswith("word59")
    assert block.lines[0].startswith("…")


@settings(max_examples=200)
@given(
    st.lists(
        st.tuples(st.sampled_from(["u1", "u2", "u3"]), st.text(min_size=1, max_size=80), st.booleans(), st.integers(1, 9)), max_size=20
    ),
    st.integers(4, 40),
    st.integers(1, 8),
)
def test_whatever_arrives_the_region_fits_the_display(events, columns, rows):
    board = CaptionBoard()
    for utt, text, is_translation, rev in events:
        board.on_translation(tl(utt, text, rev)) if is_translation else board.on_transcript(tr(utt, text, rev))
    caption = board.render(columns, rows)
    lines = [line for e in caption.entries for line in (*e.source.lines, *e.translation.lines)]
    assert len(lines) <= rows
    assert all(cell_width(line) <= columns for line in lines)

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sightline_overlay.domain.textwrap import ELLIPSIS, NO_LINE_END, NO_LINE_START, cell_width, fit, wrap

# Latin words, CJK runs, punctuation and spaces mixed the way real captions are.
pieces = st.one_of(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=14),
    st.text(alphabet="你好世界欢迎光临谢谢菜单价格拉面寿司こんにちは한국어", min_size=1, max_size=8),
    st.sampled_from([" ", "  ", ", ", "。", "，", "！", "「", "」", "(", ")", "…", "-", "1984"]),
)
texts = st.lists(pieces, max_size=40).map("".join)


@settings(max_examples=300)
@given(texts, st.integers(min_value=2, max_value=60))
def test_no_line_is_wider_than_the_display(text, columns):
    for line in wrap(text, columns):
        assert cell_width(line) <= columns


@settings(max_examples=300)
@given(texts, st.integers(min_value=2, max_value=60))
def test_wrapping_loses_no_visible_character(text, columns):
    assert "".join(wrap(text, columns)).replace(" ", "") == text.replace(" ", "")


def _line_starts(text: str, lines: list[str]) -> list[int]:
    """Index in `text` of each line's first character (wrap keeps every
    visible character in order and only drops spaces)."""
    starts, i = [], 0
    for line in lines:
        while i < len(text) and text[i] == " " and line[:1] != " ":
            i += 1
        starts.append(i)
        i += len(line)
    return starts


@settings(max_examples=300)
@given(texts, st.integers(min_value=8, max_value=60))
@example("aaaaaaaaaaaaaaaaaaaa  )aa", 8)  # a mark after a space may start a line
@example("你好，世界。「引号」开头", 8)
def test_kinsoku_no_closing_mark_starts_and_no_opening_mark_ends_a_line(text, columns):
    lines = wrap(text, columns)
    starts = _line_starts(text, lines)
    for k in range(1, len(lines)):
        previous, line, start = lines[k - 1], lines[k], starts[k]
        if not previous or not line or start == 0 or text[start - 1] == " ":
            continue  # a break at a space is always allowed
        # Only a piece wider than the whole line may be broken anywhere.
        if cell_width(previous) >= columns - 2:
            continue
        assert line[0] not in NO_LINE_START, (text, lines)
        assert previous[-1] not in NO_LINE_END, (text, lines)


def test_cjk_counts_double():
    assert cell_width("你好") == 4
    assert wrap("你好世界你好世界", 8) == ["你好世界", "你好世界"]


def test_latin_words_stay_whole():
    assert wrap("hello world again", 11) == ["hello world", "again"]


def test_words_longer_than_a_line_are_broken():
    assert wrap("abcdefghij", 4) == ["abcd", "efgh", "ij"]


def test_closing_punctuation_stays_with_its_character():
    assert wrap("你好，世界。", 6) == ["你好，", "世界。"]
    # Width 4 cannot hold "你好，": the comma travels with 好 rather than start a line.
    assert wrap("你好，世界。", 4) == ["你", "好，", "世", "界。"]


def test_control_and_bidi_characters_are_removed():
    assert wrap("a\x00b\u202ec\x1b[31md", 20) == ["abc[31md"]


def test_explicit_newlines_are_kept():
    assert wrap("one\n\nthree", 20) == ["one", "", "three"]


def test_fit_marks_truncation_with_an_ellipsis_inside_the_width():
    lines, truncated = fit(wrap("a b c d e f g h i j", 3), 2, 3)
    assert truncated
    assert len(lines) == 2
    assert lines[-1].endswith(ELLIPSIS)
    assert all(cell_width(line) <= 3 for line in lines)


def test_a_one_cell_display_is_refused():
    with pytest.raises(ValueError, match="at least 2 cells"):
        wrap("x", 1)

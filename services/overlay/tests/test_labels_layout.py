"""Laying labels out over a photo: no two overlap, all stay on the photo,
each sits over or right next to its anchor, and the result depends only on
the labels (not their order)."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sightline.v1.common_pb2 import Rect
from sightline.v1.device_pb2 import HudProfile
from sightline_overlay.domain.labels import (
    Area,
    Canvas,
    LabelRequest,
    LabelStyle,
    LabelText,
    candidates,
    clean_area,
    label_size,
    layout,
    text_variants,
)
from sightline_overlay.domain.textwrap import cell_width
from sightline_runtime.devices import DEFAULT_HUD

# The labels region of the default 640x480 HUD (domain/hud.py).
REGION = Rect(x=0, y=32, width=640, height=288)
CANVAS = Canvas.contain(1280, 960, REGION, DEFAULT_HUD)  # drawn 384x288


def req(key, x, y, w, h, text="Exit", confidence=0.9):
    return LabelRequest(key, Area(x, y, w, h), text, confidence)


def strictly_overlap(a: Area, b: Area) -> bool:
    return a.x < b.right and b.x < a.right and a.y < b.bottom and b.y < a.bottom


# --- strategies ---
coordinates = st.floats(min_value=0.0, max_value=0.98, allow_nan=False)
sizes = st.floats(min_value=0.005, max_value=0.6, allow_nan=False)
texts = st.one_of(
    st.sampled_from(["Exit", "No smoking", "Cashier", "出口", "禁止吸烟", "收银台", "Latte ¥28", "Salida de emergencia", "请勿触摸展品"]),
    st.text(alphabet=st.sampled_from(list("abc xyz出口禁止吸烟ÉÑ-¥")), min_size=1, max_size=60).filter(lambda t: t.strip()),
)


@st.composite
def requests(draw):
    count = draw(st.integers(min_value=0, max_value=30))
    out = []
    for key in range(count):
        x, y = draw(coordinates), draw(coordinates)
        w, h = draw(sizes), draw(sizes)
        anchor = clean_area(x, y, w, h)
        if anchor is None:
            continue
        out.append(LabelRequest(key, anchor, draw(texts), draw(st.floats(min_value=0, max_value=1))))
    return out


@st.composite
def canvases(draw):
    width, height = draw(st.integers(1, 8000)), draw(st.integers(1, 8000))
    hud = HudProfile(
        width_px=draw(st.sampled_from([320, 640, 1280])),
        height_px=draw(st.sampled_from([240, 480, 720])),
        cell_width_px=draw(st.sampled_from([8, 12, 16])),
        line_height_px=draw(st.sampled_from([16, 24, 32])),
    )
    region = Rect(x=0, y=0, width=hud.width_px, height=round(hud.height_px * 0.6))
    return Canvas.contain(width, height, region, hud, text_scale=draw(st.sampled_from([0.5, 0.75, 1.0])))


@settings(max_examples=300, deadline=None)
@given(requests(), canvases())
def test_the_layout_keeps_its_promises(labels, canvas):
    arranged = layout(labels, canvas)
    placed = arranged.placed
    # Every label is either drawn or counted as omitted, once.
    assert sorted([p.key for p in placed] + list(arranged.omitted)) == sorted(r.key for r in labels)
    for i, a in enumerate(placed):
        assert a.placement.inside_unit(), a
        assert a.placement.w > 0
        assert a.placement.h > 0
        assert a.placement.touches(a.anchor), "a label lies over its region or right next to it"
        for b in placed[i + 1 :]:
            assert not strictly_overlap(a.placement, b.placement), (a, b)
    # Its text fits the HUD: at most max_lines lines of at most max_columns cells.
    style = LabelStyle()
    for p in placed:
        assert 1 <= len(p.text.lines) <= style.max_lines
        assert all(cell_width(line) <= style.max_columns for line in p.text.lines)
    assert len(placed) <= style.max_labels


@settings(max_examples=150, deadline=None)
@given(requests(), st.randoms(use_true_random=False))
def test_the_layout_is_deterministic_and_ignores_the_order_given(labels, rnd):
    first = layout(labels, CANVAS)
    shuffled = list(labels)
    rnd.shuffle(shuffled)
    assert layout(shuffled, CANVAS) == first
    assert layout(labels, CANVAS) == first


@settings(max_examples=300, deadline=None)
@given(
    st.floats(min_value=0, max_value=0.999),
    st.floats(min_value=0, max_value=0.999),
    st.floats(min_value=0.001, max_value=1),
    st.floats(min_value=0.001, max_value=1),
    st.floats(min_value=0.01, max_value=1),
    st.floats(min_value=0.01, max_value=1),
)
def test_each_candidate_pushed_inside_the_photo_still_touches_its_anchor(x, y, w, h, lw, lh):
    anchor = clean_area(x, y, w, h)
    if anchor is None:
        return
    spots = candidates(anchor, lw, lh)
    assert [side for side, _ in spots] == ["over"] + ["above"] * 3 + ["below"] * 3 + ["right"] * 3 + ["left"] * 3
    for _, box in spots:
        assert box.inside_unit()
        assert box.touches(anchor, eps=1e-7)


def test_a_label_goes_over_its_anchor_first():
    [placed] = layout([req(0, 0.3, 0.4, 0.4, 0.2, "Exit")], CANVAS).placed
    assert placed.side == "over"
    cx, cy = placed.anchor.centre
    assert placed.placement.centre == pytest.approx((cx, cy))
    # 4 cells of 16 px plus half a cell each side, on a photo drawn 384 px wide; one 32 px line plus 4 px each side of 288.
    assert placed.placement.w == pytest.approx((4 * 16 + 16) / 384)
    assert placed.placement.h == pytest.approx((32 + 8) / 288)


def test_neighbouring_signs_get_labels_that_hide_neither_sign():
    # Two short signs side by side with longer translations: over its own text,
    # each label would cover the other sign, so one goes above and one below.
    exit_sign = req(0, 0.30, 0.45, 0.10, 0.08, "Emergency exit", confidence=0.99)
    no_smoking = req(1, 0.42, 0.45, 0.10, 0.08, "No smoking", confidence=0.5)
    first, second = layout([no_smoking, exit_sign], CANVAS).placed
    assert (first.key, first.side) == (0, "above"), "the more confident region is placed first"
    assert (second.key, second.side) == (1, "below")
    assert not first.placement.overlaps(second.placement)
    for label in (first, second):
        assert label.placement.touches(label.anchor)
        other = second if label is first else first
        assert not label.placement.overlaps(other.anchor, -1e-9, -1e-9), "and hides neither sign"


def test_a_sign_inside_another_still_gets_a_label_next_to_it():
    small = req(0, 0.40, 0.40, 0.20, 0.08, "Cashier", confidence=0.99)
    big = req(1, 0.38, 0.38, 0.24, 0.12, "Exit", confidence=0.5)
    arranged = layout([small, big], CANVAS)
    assert arranged.omitted == ()
    first, second = arranged.placed
    assert first.key == 1, "the bigger region is placed first"
    assert not first.placement.overlaps(second.placement)
    assert second.placement.touches(second.anchor)


def test_a_crowded_photo_omits_what_finds_no_room_and_counts_it():
    # 40 regions on one line of the photo: there is room for some labels only.
    crowd = [req(k, k * 0.025, 0.5, 0.02, 0.02, f"word{k}") for k in range(40)]
    arranged = layout(crowd, CANVAS, LabelStyle(max_labels=40))
    assert arranged.placed
    assert arranged.omitted
    assert len(arranged.placed) + len(arranged.omitted) == 40
    capped = layout(crowd, CANVAS, LabelStyle(max_labels=3))
    assert len(capped.placed) == 3
    assert len(capped.omitted) == 37


def test_cjk_text_is_wrapped_two_cells_a_character():
    request = req(0, 0.1, 0.1, 0.15, 0.1, "禁止吸烟区域请勿吸烟谢谢合作")
    [block, single] = text_variants(request, CANVAS, LabelStyle(max_lines=2))
    # The anchor is 57.6 px wide (2 cells): too narrow for 2 lines, so the text takes
    # the narrowest block of 2 lines: 14 cells, 7 characters a line.
    assert block.lines == ("禁止吸烟区域请", "勿吸烟谢谢合作")
    assert block.cells == 14
    assert not block.truncated
    # On one line it takes 28 cells, more than the (384 - 16) // 16 = 23 the photo allows: cut.
    assert single.truncated
    assert len(single.lines) == 1
    assert single.lines[0].endswith("…")
    assert cell_width(single.lines[0]) <= 23
    w, h = label_size(block, CANVAS)
    assert w == pytest.approx((14 * 16 + 16) / 384)
    assert h == pytest.approx((2 * 32 + 8) / 288)


def test_a_short_text_over_a_wide_anchor_is_one_line_and_one_variant():
    assert text_variants(req(0, 0.1, 0.1, 0.5, 0.1, "Exit"), CANVAS, LabelStyle()) == [LabelText(("Exit",), False)]


def test_long_text_is_cut_to_max_lines_with_an_ellipsis():
    request = req(0, 0.0, 0.0, 1.0, 0.3, "word " * 40)
    [text, single] = text_variants(request, CANVAS, LabelStyle(max_lines=2, max_columns=20))
    assert len(text.lines) == 2
    assert text.truncated
    assert text.lines[-1].endswith("…")
    assert single.truncated
    assert len(single.lines) == 1


@pytest.mark.parametrize(
    ("box", "expected"),
    [
        ((0.1, 0.2, 0.3, 0.4), Area(0.1, 0.2, 0.3, 0.4)),
        ((-0.1, 0.5, 0.3, 0.9), Area(0.0, 0.5, 0.2, 0.5)),  # partly off the photo: the part on it
        ((1.2, 0.5, 0.3, 0.2), None),  # off the photo
        ((0.1, 0.2, -0.3, 0.4), None),  # negative size
        ((0.1, 0.2, 0.0, 0.4), None),
        ((math.nan, 0.2, 0.3, 0.4), None),
        ((0.1, 0.2, math.inf, 0.4), None),
    ],
)
def test_boxes_are_clipped_to_the_photo_or_refused(box, expected):
    cleaned = clean_area(*box)
    if expected is None:
        assert cleaned is None
    else:
        assert (cleaned.x, cleaned.y, cleaned.w, cleaned.h) == pytest.approx((expected.x, expected.y, expected.w, expected.h))


def test_a_photo_without_size_cannot_be_drawn():
    with pytest.raises(ValueError, match="cannot be drawn"):
        Canvas.contain(0, 960, REGION, DEFAULT_HUD)


def test_a_photo_drawn_too_narrow_for_text_omits_every_label():
    # A 1x8000 photo is drawn 0.036 px wide: not one cell.
    canvas = Canvas.contain(1, 8000, REGION, DEFAULT_HUD)
    arranged = layout([req(0, 0.1, 0.1, 0.5, 0.5)], canvas)
    assert arranged.placed == ()
    assert arranged.omitted == (0,)


def test_thousands_of_regions_give_at_most_max_labels_and_count_the_rest():
    rnd = random.Random(7)
    many = [req(k, rnd.random() * 0.9, rnd.random() * 0.9, 0.05, 0.03, "abc") for k in range(2000)]
    arranged = layout(many, CANVAS)
    assert len(arranged.placed) == LabelStyle().max_labels
    assert len(arranged.omitted) == 2000 - LabelStyle().max_labels

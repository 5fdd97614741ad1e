"""OCR of Chinese and English signs, on both engines (real models)."""

from __future__ import annotations

import numpy as np
import pytest
from sightline_vision.engines import Box, FoundText
from sightline_vision.engines.samples import (
    CHINESE_SIGNS,
    ENGLISH_SIGNS,
    MENU_LINES,
    character_error_rate,
    chinese_faces,
    chinese_sign_set,
    read_text,
    render_sign,
    sign_photo,
    street_scene,
)

pytestmark = pytest.mark.slow


def _centre_inside(found: Box, expected: Box, slack: float = 0.02) -> bool:
    cx, cy = found[0] + found[2] / 2, found[1] + found[3] / 2
    x, y, w, h = expected
    return x - slack <= cx <= x + w + slack and y - slack <= cy <= y + h + slack


def test_chinese_signs_are_read_with_a_low_character_error_rate(ocr) -> None:
    signs = chinese_sign_set()
    assert {s.text for s in signs} >= {"出口", "禁止吸烟", "收银台"}
    hypotheses = [read_text(ocr.read(np.asarray(sign.image))) for sign in signs]
    cer = character_error_rate([s.text for s in signs], hypotheses)
    misses = [(s.text, h) for s, h in zip(signs, hypotheses, strict=True) if s.text != h]
    print(f"{ocr.name}: CER {cer:.3f} over {len(signs)} Chinese signs; misread: {misses}")
    assert cer <= 0.1, misses


def test_menu_lines_with_prices_are_read(ocr) -> None:
    lines = chinese_sign_set(texts=MENU_LINES, seed=9)
    hypotheses = [read_text(ocr.read(np.asarray(line.image))) for line in lines]
    cer = character_error_rate([line.text for line in lines], hypotheses)
    assert cer <= 0.1, list(zip(MENU_LINES, hypotheses, strict=True))


def test_english_signs_are_read(ocr) -> None:
    face = chinese_faces()[0]
    signs = [render_sign(text, face, size=56, angle=(i % 3 - 1) * 4.0, noise=6.0, blur=0.6, seed=i) for i, text in enumerate(ENGLISH_SIGNS)]
    hypotheses = [read_text(ocr.read(np.asarray(sign.image))) for sign in signs]
    cer = character_error_rate([s.text for s in signs], hypotheses, ignore_case=True)
    assert cer <= 0.1, list(zip(ENGLISH_SIGNS, hypotheses, strict=True))


def test_regions_lie_over_their_signs_in_a_photo(ocr) -> None:
    image, placed = sign_photo()
    found = ocr.read(np.asarray(image))
    for text, box in placed:
        matches = [f for f in found if f.text.replace(" ", "").upper() == text.replace(" ", "").upper()]
        assert matches, (text, [f.text for f in found])
        assert any(_centre_inside(m.box, box) for m in matches), (text, box, [m.box for m in matches])
        for m in matches:
            assert 0.0 <= m.box[0] <= 1.0
            assert 0.0 <= m.box[1] <= 1.0
            assert 0.0 < m.box[2] <= 1.0
            assert 0.0 < m.box[3] <= 1.0
            assert 0.0 < m.confidence <= 1.0


def test_a_photo_without_text_reads_nothing(ocr) -> None:
    assert ocr.read(np.asarray(street_scene((640, 480)))) == []
    assert ocr.read(np.full((300, 400, 3), 128, dtype=np.uint8)) == []


def test_tiny_and_odd_images_do_not_crash(ocr) -> None:
    for shape in ((1, 1, 3), (8, 500, 3), (500, 8, 3), (32, 32, 3)):
        result = ocr.read(np.zeros(shape, dtype=np.uint8))
        assert isinstance(result, list)
        assert all(isinstance(r, FoundText) for r in result)


def test_the_sign_set_varies_faces_sizes_and_angles() -> None:
    signs = chinese_sign_set()
    assert {"出口", "禁止吸烟", "收银台"} <= set(CHINESE_SIGNS)
    names = {face.name for face in chinese_faces()}
    assert any("Sans" in n for n in names)
    assert any("Serif" in n for n in names)
    assert len({s.image.size for s in signs}) > len(signs) // 2

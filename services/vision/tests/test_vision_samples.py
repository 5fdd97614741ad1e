"""The test imagery and the character error rate the OCR tests rely on."""

from __future__ import annotations

import jiwer
import numpy as np
import pytest
from sightline_vision.engines.samples import (
    CHINESE_SIGNS,
    character_error_rate,
    chinese_faces,
    chinese_sign_set,
    edit_distance,
    render_code,
    render_sign,
)


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [("出口", "出口", 0), ("出口", "入口", 1), ("禁止吸烟", "禁吸烟", 1), ("", "abc", 3), ("kitten", "sitting", 3)],
)
def test_edit_distance(a: str, b: str, distance: int) -> None:
    assert edit_distance(a, b) == distance


def test_the_character_error_rate_agrees_with_jiwer() -> None:
    references = ["出口", "禁止吸烟", "收银台", "EXIT"]
    hypotheses = ["出口", "禁止吸煙", "收台", "EXLT"]
    assert character_error_rate(references, hypotheses) == pytest.approx(jiwer.cer(references, hypotheses))
    assert character_error_rate(references, hypotheses) == pytest.approx(3 / 13)


def test_the_character_error_rate_ignores_spaces_and_width() -> None:
    assert character_error_rate(["No Smoking", "小笼包 ¥18"], ["NoSmoking", "小笼包￥18"]) == 0.0
    assert character_error_rate(["Exit"], ["EXIT"], ignore_case=True) == 0.0
    assert character_error_rate(["出口"], [""]) == 1.0


def test_signs_come_in_every_installed_face() -> None:
    names = [face.name for face in chinese_faces()]
    # Sans, Sans Mono and Serif, Regular and Bold.
    assert len(names) >= 4
    assert {"Sans", "Serif", "Regular", "Bold"} <= {word for name in names for word in name.split()}
    assert all(" SC " in name for name in names)
    assert all(" TC " in face.name for face in chinese_faces("TC"))
    signs = chinese_sign_set()
    assert [s.text for s in signs] == list(CHINESE_SIGNS)
    # Deterministic: the CER is measured on the same pixels every run.
    again = chinese_sign_set()
    assert all(np.array_equal(np.asarray(a.image), np.asarray(b.image)) for a, b in zip(signs, again, strict=True))


def test_a_sign_knows_where_its_text_is() -> None:
    sign = render_sign("出口", chinese_faces()[0], size=64, ink=(255, 255, 255), paper=(0, 0, 0))
    pixels = np.asarray(sign.image)[..., 0]
    x, y, w, h = sign.box
    height, width = pixels.shape
    inside = pixels[round(y * height) : round((y + h) * height), round(x * width) : round((x + w) * width)]
    assert inside.max() == 255  # the ink is inside the box
    assert pixels.sum() == pytest.approx(inside.sum(), rel=0.01)  # and (nearly) none outside


def test_codes_are_rendered_with_a_quiet_zone() -> None:
    image = np.asarray(render_code("QRCode", "hello"))
    assert image.shape[0] == image.shape[1]
    assert (image[:4] == 255).all()

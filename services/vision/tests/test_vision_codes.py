"""Barcodes and QR codes rendered by zxing-cpp decode exactly, with boxes around them."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from sightline_vision.engines.samples import place, render_code
from skimage import data as samples

CODES = [
    ("EAN13", "4006381333931"),
    ("Code128", "SIGHTLINE-0042/zh"),
    ("QRCode", "https://example.com/menu?table=12&lang=zh"),
    ("QRCode", "收银台 3 号"),
]


@pytest.mark.parametrize(("fmt", "text"), CODES)
def test_a_rendered_code_decodes_exactly(codes, fmt: str, text: str) -> None:
    image = np.asarray(render_code(fmt, text))
    found = codes.read(image)
    assert [(c.format, c.text) for c in found] == [(fmt, text)]
    x, y, w, h = found[0].box
    assert 0.0 <= x < x + w <= 1.0
    assert 0.0 <= y < y + h <= 1.0


@pytest.mark.parametrize(
    ("fmt", "text", "at"), [(f, t, a) for (f, t), a in zip(CODES, ((0.1, 0.1), (0.45, 0.55), (0.6, 0.2), (0.05, 0.6)), strict=True)]
)
def test_a_code_pasted_into_a_photo_is_found_where_it_is(codes, fmt: str, text: str, at: tuple[float, float]) -> None:
    background = Image.fromarray(samples.coffee()).resize((1200, 800))
    photo, box = place(background, render_code(fmt, text, module_px=2), at)
    found = [c for c in codes.read(np.asarray(photo)) if c.format == fmt]
    assert [c.text for c in found] == [text]
    fx, fy, fw, fh = found[0].box
    x, y, w, h = box
    # The box found lies inside the pasted code (its quiet zone included) and covers most of its bars.
    assert x - 0.01 <= fx
    assert fx + fw <= x + w + 0.01
    assert y - 0.01 <= fy
    assert fy + fh <= y + h + 0.01
    assert fw >= 0.5 * w


def test_several_codes_in_one_photo(codes) -> None:
    photo = Image.fromarray(samples.astronaut()).resize((1024, 1024))
    for (fmt, text), at in zip(CODES[:3], ((0.02, 0.02), (0.45, 0.8), (0.7, 0.02)), strict=True):
        photo, _ = place(photo, render_code(fmt, text, module_px=2), at)
    found = {(c.format, c.text) for c in codes.read(np.asarray(photo))}
    assert found == set(CODES[:3])


def test_a_photo_without_codes_reads_none(codes) -> None:
    assert codes.read(samples.chelsea()) == []
    assert codes.read(np.zeros((10, 10, 3), dtype=np.uint8)) == []

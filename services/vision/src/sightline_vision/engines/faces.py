"""Faces, for the bystander blur: OpenCV's detectors, models from the wheel.

"haar" is the frontal-face cascade opencv-python-headless bundles
(cv2.data.haarcascades). "yunet" is OpenCV's DNN face detector
(cv2.FaceDetectorYN); it needs its ONNX model, which is used only if an
installed package ships it (nothing is downloaded): load_face_detector
says so plainly when none does.

OpenCV does not document its detectors as safe to call from two threads at
once, so each thread gets its own (they are small and load in milliseconds).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from sightline_vision.engines import Box

_HAAR = "haarcascade_frontalface_default.xml"
# Detectors run on a copy no larger than this: a face worth blurring (4% of
# the shorter side by default) is still 20 px there, and the cascade's cost
# grows with the area (960 px took 2.3x as long).
_DETECT_SIDE = 640


class PerThread:
    """One object per calling thread, built on first use."""

    def __init__(self, build: Callable[[], object]) -> None:
        self._build = build
        self._local = threading.local()

    def get(self):
        value = getattr(self._local, "value", None)
        if value is None:
            value = self._local.value = self._build()
        return value


def _shrunk_grey(image: np.ndarray) -> tuple[np.ndarray, float]:
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    height, width = grey.shape
    scale = min(1.0, _DETECT_SIDE / max(height, width))
    if scale < 1.0:
        grey = cv2.resize(grey, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
    return grey, scale


class HaarFaceDetector:
    name = "opencv-haar-frontalface"

    def __init__(self, *, min_size: float = 0.04) -> None:
        path = Path(cv2.data.haarcascades) / _HAAR
        if not path.is_file():
            raise RuntimeError(f"opencv-python-headless ships no {_HAAR} (looked in {path.parent})")
        self.min_size = min_size

        def build() -> cv2.CascadeClassifier:
            cascade = cv2.CascadeClassifier(str(path))
            if cascade.empty():
                raise RuntimeError(f"OpenCV could not load the face cascade {path}")
            return cascade

        self._cascade = PerThread(build)
        self._cascade.get()

    def detect(self, image: np.ndarray) -> list[Box]:
        grey, _ = _shrunk_grey(image)
        height, width = grey.shape
        smallest = max(20, round(min(height, width) * self.min_size))
        # scaleFactor 1.2: half the pyramid levels of 1.1, the same faces found here.
        found = self._cascade.get().detectMultiScale(cv2.equalizeHist(grey), scaleFactor=1.2, minNeighbors=5, minSize=(smallest, smallest))
        return [(x / width, y / height, w / width, h / height) for x, y, w, h in np.asarray(found).reshape(-1, 4).tolist()]


def yunet_model_path() -> Path | None:
    """A YuNet ONNX model shipped inside an installed package, if any."""
    roots = {Path(cv2.__file__).parent}
    for root in roots:
        for path in sorted(root.rglob("*yunet*.onnx")):
            return path
    return None


class YuNetFaceDetector:
    name = "opencv-yunet"

    def __init__(self, model: Path, *, min_size: float = 0.04, score: float = 0.8) -> None:
        self.min_size = min_size

        def build():
            return cv2.FaceDetectorYN.create(str(model), "", (320, 320), score, 0.3, 5000)

        self._detector = PerThread(build)
        self._detector.get()

    def detect(self, image: np.ndarray) -> list[Box]:
        bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
        height, width = bgr.shape[:2]
        scale = min(1.0, _DETECT_SIDE / max(height, width))
        if scale < 1.0:
            bgr = cv2.resize(bgr, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
        h, w = bgr.shape[:2]
        detector = self._detector.get()
        detector.setInputSize((w, h))
        _, faces = detector.detect(bgr)
        boxes = []
        for face in [] if faces is None else faces:
            x, y, fw, fh = (float(v) for v in face[:4])
            if min(fw, fh) < self.min_size * min(w, h):
                continue
            left, top = max(0.0, x / w), max(0.0, y / h)
            boxes.append((left, top, min(1.0, (x + fw) / w) - left, min(1.0, (y + fh) / h) - top))
        return boxes


def load_face_detector(kind: str, *, min_size: float, threads: int = 1) -> HaarFaceDetector | YuNetFaceDetector:
    # OpenCV's own thread pool (process-wide) would otherwise take every core
    # inside each call, fighting the other analysis worker.
    cv2.setNumThreads(threads)
    if kind == "haar":
        return HaarFaceDetector(min_size=min_size)
    if kind == "yunet":
        model = yunet_model_path()
        if model is None:
            raise RuntimeError("no installed package ships a YuNet face model: set SIGHTLINE_VISION_FACE_DETECTOR=haar")
        return YuNetFaceDetector(model, min_size=min_size)
    raise ValueError(f"unknown face detector {kind!r}")

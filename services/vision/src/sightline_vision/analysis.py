"""What vision does to a photo, from its bytes: protect (blur bystanders'
faces before anyone can read it) and analyze (text, tags, codes).

Both are synchronous and CPU-bound: the service runs them on its analysis
worker threads (asyncio.to_thread or an executor), never on the event loop.
A PhotoAnalyzer keeps no state between calls, and its engines are safe to
share between threads (sightline_vision.engines), so one analyzer serves
every worker. Bad input raises ImageRefused (with the ErrorCode to report);
a photo without text, tags or codes is an empty result, not an error.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sightline.v1.errors_pb2 import ErrorCode
from sightline.v1.vision_pb2 import PhotoTreatment

from sightline_vision.domain.image import CONTENT_TYPES, ImageRefused, Photo, analysis_view, blur_boxes, encode, open_photo
from sightline_vision.domain.language import text_language
from sightline_vision.domain.pii import mask_personal_data
from sightline_vision.engines import Box, Engines, FoundCode, FoundTag, FoundText
from sightline_vision.settings import VisionSettings


@dataclass(frozen=True)
class Protected:
    """The photo as it may be stored: re-encoded with faces blurred, or the
    original bytes (no face, or the device opted in to keep them)."""

    data: bytes
    faces: int
    treatment: PhotoTreatment.ValueType
    width: int
    height: int
    ms: float
    face_boxes: tuple[Box, ...] = ()
    # The decoded (and blurred) photo, for analyze_photo without a second decode.
    photo: Photo | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class Analysis:
    width: int
    height: int
    # Text is masked (mask_personal_data); masked[i] says whether region i was.
    text_regions: list[FoundText]
    masked: list[bool]
    tags: list[FoundTag]
    codes: list[FoundCode]
    timings_ms: dict[str, float]
    ocr_engine: str = ""
    tagger_engine: str = ""
    tag_vocabulary: str = ""

    @property
    def total_ms(self) -> float:
        return sum(self.timings_ms.values())


class PhotoAnalyzer:
    def __init__(self, engines: Engines, settings: VisionSettings) -> None:
        self.engines = engines
        self.settings = settings

    def decode(self, data: bytes, *, for_analysis: bool = False) -> Photo:
        draft = self.settings.vision_analysis_max_side if for_analysis else None
        return open_photo(data, max_pixels=self.settings.photo_max_pixels, draft_side=draft)

    def protect(self, data: bytes, content_type: str, *, keep_faces: bool) -> Protected:
        started = time.perf_counter()
        expected = CONTENT_TYPES.get(content_type)
        if expected is None:
            raise ImageRefused(ErrorCode.ERROR_CODE_UNSUPPORTED_MEDIA, f"content type {content_type[:80]!r} is not image/jpeg or image/png")
        photo = self.decode(data)
        if photo.format != expected:
            raise ImageRefused(ErrorCode.ERROR_CODE_UNSUPPORTED_MEDIA, f"the photo is a {photo.format}, not the {content_type} it claims")
        view, _ = analysis_view(photo, max_side=self.settings.vision_analysis_max_side)
        faces = tuple(self.engines.faces.detect(view))
        if not faces:
            treatment, stored = PhotoTreatment.PHOTO_TREATMENT_NO_FACES, data
        elif keep_faces:
            treatment, stored = PhotoTreatment.PHOTO_TREATMENT_ORIGINAL_KEPT, data
        else:
            photo = Photo(blur_boxes(photo.image, faces), photo.format)
            treatment, stored = PhotoTreatment.PHOTO_TREATMENT_FACES_BLURRED, encode(photo.image, content_type)
        ms = (time.perf_counter() - started) * 1000
        return Protected(stored, len(faces), treatment, photo.width, photo.height, ms, faces, photo)

    def analyze(self, data: bytes) -> Analysis:
        started = time.perf_counter()
        photo = self.decode(data, for_analysis=True)
        return self.analyze_photo(photo, decode_ms=(time.perf_counter() - started) * 1000)

    def analyze_photo(self, photo: Photo, *, decode_ms: float = 0.0) -> Analysis:
        timings = {"decode": decode_ms}
        clock = time.perf_counter()

        def lap(name: str) -> None:
            nonlocal clock
            now = time.perf_counter()
            timings[name] = timings.get(name, 0.0) + (now - clock) * 1000
            clock = now

        view, _ = analysis_view(photo, max_side=self.settings.vision_analysis_max_side)
        lap("decode")
        regions, masked = [], []
        for found in self.engines.ocr.read(view):
            text, was_masked = mask_personal_data(found.text)
            regions.append(FoundText(text, found.box, found.confidence, text_language(found.text)))
            masked.append(was_masked)
        lap("ocr")
        tags = self.engines.tagger.tag(view, self.settings.vision_tags_top_k)
        lap("tags")
        codes = self.engines.codes.read(view)
        lap("codes")
        return Analysis(
            width=photo.width,
            height=photo.height,
            text_regions=regions,
            masked=masked,
            tags=tags,
            codes=codes,
            timings_ms=timings,
            ocr_engine=f"{self.engines.ocr.name} {getattr(self.engines.ocr, 'model', '')}".strip(),
            tagger_engine=self.engines.tagger.name,
            tag_vocabulary=getattr(self.engines.tagger, "vocabulary", ""),
        )

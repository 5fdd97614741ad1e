"""A photo as the library indexes it, and its PhotoRecord (pure: no I/O)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sightline.v1.common_pb2 import Box
from sightline.v1.vision_pb2 import DecodedCode, ImageTag, PhotoRecord, TextRegion, VisionResult

from sightline_vision.library.query import MAX_TAG_CHARS, LibraryQueryError, check_device, check_photo_id
from sightline_vision.library.text import index_text, normalise_tag

TagLike = ImageTag | tuple[str, float] | tuple[str, float, str]
RegionLike = TextRegion | tuple[Any, ...]
CodeLike = DecodedCode | tuple[str, str] | tuple[str, str, Any]


def _box(box: Box | Sequence[float] | None) -> Box | None:
    if box is None or isinstance(box, Box):
        return box
    x, y, width, height = box
    return Box(x=x, y=y, width=width, height=height)


def _tag(tag: TagLike) -> ImageTag:
    if isinstance(tag, ImageTag):
        return tag
    label, score, *vocabulary = tag
    return ImageTag(label=label, score=score, vocabulary=vocabulary[0] if vocabulary else "")


def _region(region: RegionLike) -> TextRegion:
    if isinstance(region, TextRegion):
        return region
    text, box, confidence, language, masked = region
    return TextRegion(text=text, box=_box(box), confidence=confidence, language=language, masked=masked)


def _code(code: CodeLike) -> DecodedCode:
    if isinstance(code, DecodedCode):
        return code
    fmt, text, *box = code
    return DecodedCode(format=fmt, text=text, box=_box(box[0]) if box else None)


@dataclass(frozen=True)
class PhotoEntry:
    photo_id: str
    device_id: str
    captured_at: dt.datetime
    width: int
    height: int
    object_name: str
    tags: Sequence[TagLike] = ()
    text_regions: Sequence[RegionLike] = ()
    codes: Sequence[CodeLike] = ()
    # sightline.v1.PhotoTreatment
    treatment: int = 0

    @classmethod
    def from_result(cls, result: VisionResult, *, object_name: str) -> PhotoEntry:
        """What vision saw in a stored photo (object_name: PhotoStored.object_name)."""
        return cls(
            photo_id=result.photo_id,
            device_id=result.meta.device_id,
            captured_at=result.captured_at.ToDatetime(tzinfo=dt.UTC),
            width=result.image_width,
            height=result.image_height,
            object_name=object_name,
            tags=list(result.tags),
            text_regions=list(result.text_regions),
            codes=list(result.codes),
            treatment=result.treatment,
        )

    def checked(self) -> IndexedPhoto:
        """The rows to store, or LibraryQueryError when the entry cannot be indexed."""
        check_device(self.device_id)
        check_photo_id(self.photo_id)
        if self.captured_at.tzinfo is None:
            raise LibraryQueryError(f"photo {self.photo_id}: captured_at must carry a time zone")
        if self.width < 0 or self.height < 0:
            raise LibraryQueryError(f"photo {self.photo_id}: negative size {self.width}x{self.height}")
        try:
            detail = PhotoRecord(
                tags=[_tag(t) for t in self.tags],
                text_regions=[_region(r) for r in self.text_regions],
                codes=[_code(c) for c in self.codes],
            )
        except (TypeError, ValueError) as exc:
            raise LibraryQueryError(f"photo {self.photo_id}: malformed tags, text regions or codes: {exc}") from None
        labels = list(dict.fromkeys(tag for t in detail.tags if (tag := normalise_tag(t.label))))
        if any(len(label) > MAX_TAG_CHARS for label in labels):
            raise LibraryQueryError(f"photo {self.photo_id}: a tag longer than {MAX_TAG_CHARS} characters")
        return IndexedPhoto(
            row={
                "device_id": self.device_id,
                "photo_id": self.photo_id,
                "captured_at": self.captured_at,
                "width": self.width,
                "height": self.height,
                "object_name": self.object_name,
                "treatment": int(self.treatment),
                "detail": detail.SerializeToString(deterministic=True),
                "search_text": index_text([r.text for r in detail.text_regions] + [t.label for t in detail.tags]),
            },
            tags=labels,
        )


@dataclass(frozen=True)
class IndexedPhoto:
    row: dict[str, Any]
    tags: list[str]


def record_from_row(row: Any, score: float = 0.0) -> PhotoRecord:
    """A PhotoRecord from a photos row (mapping-like: the model's columns)."""
    record = PhotoRecord.FromString(row.detail)
    record.photo_id = row.photo_id
    record.device_id = row.device_id
    record.captured_at.FromDatetime(row.captured_at)
    record.width = row.width
    record.height = row.height
    record.object_name = row.object_name
    record.treatment = row.treatment
    record.score = score
    return record

"""The photo intake: from a photo notice to a PhotoStored event.

The glasses upload a photo into the hub's object store as
<device>/<photo_id>, then send its PhotoCaptured notice up the durable
up-link. Nothing from the glasses is trusted: the intake reads the object
back from the notice's own device namespace, checks its size and SHA-256
against the notice, decodes the image (bounded in pixels, so a
decompression bomb is refused), and only then announces it on
photo.stored.<device>. A notice for a photo that is not in its device's
namespace is refused, so one pair of glasses cannot claim another's photo.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import re
import uuid
import warnings
from dataclasses import dataclass

from nats.js.errors import DigestMismatchError, NotFoundError, ObjectNotFoundError
from PIL import Image
from sightline.v1.common_pb2 import EventMeta
from sightline.v1.device_pb2 import AuditAction
from sightline.v1.errors_pb2 import ErrorCode
from sightline.v1.vision_pb2 import PhotoCaptured, PhotoStored
from sightline_runtime import subjects
from sightline_runtime.audit import AuditLog
from sightline_runtime.codec import EventRejected
from sightline_runtime.consumer import EventContext
from sightline_runtime.events import now_timestamp
from sightline_runtime.publisher import EventPublisher
from sightline_runtime.streams import PHOTOS, VISION, photo_object_name

from sightline_vision.settings import VisionSettings

SERVICE = "vision"
PHOTO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG"}
# PhotoStored ids derive from the notice's, so a retried announcement is the same event.
_STORED_NAMESPACE = uuid.UUID("6f1b7c1e-3f4e-4a55-9a8e-5b0f4c1d2e37")


@dataclass(frozen=True)
class ImageSize:
    width: int
    height: int


def image_size(data: bytes, content_type: str, *, max_pixels: int) -> ImageSize:
    """Decode the whole image (a corrupt one fails here) within max_pixels."""
    fmt = _FORMATS[content_type]
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=[fmt]) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise EventRejected(
                        ErrorCode.ERROR_CODE_UNSUPPORTED_MEDIA, f"{width}x{height} pixels is over the {max_pixels}-pixel limit"
                    )
                image.load()
        except EventRejected:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning, OSError, SyntaxError, ValueError, EOFError) as err:
            raise EventRejected(ErrorCode.ERROR_CODE_UNSUPPORTED_MEDIA, f"not a valid {fmt} image: {err}") from None
    return ImageSize(width, height)


class PhotoIntake:
    def __init__(self, publisher: EventPublisher, settings: VisionSettings) -> None:
        self.publisher = publisher
        self.settings = settings
        self.store = None  # the hub's photos object store, opened at start-up
        self.audit = AuditLog(publisher, SERVICE)

    async def discard(self, notice: PhotoCaptured, ctx: EventContext) -> None:
        """Privacy mode: the photo is not processed, and not kept either. Only
        the notice's own device namespace is ever touched."""
        if not PHOTO_ID.fullmatch(notice.photo_id) or self.store is None:
            return
        # Not found: never uploaded, or deleted by an earlier delivery.
        with contextlib.suppress(ObjectNotFoundError, NotFoundError):
            await self.store.delete(photo_object_name(ctx.device_id, notice.photo_id))

    async def on_photo_captured(self, notice: PhotoCaptured, ctx: EventContext) -> None:
        def refuse(code: int, why: str) -> EventRejected:
            return EventRejected(code, why, event_id=ctx.event_id, device_id=ctx.device_id)

        if not PHOTO_ID.fullmatch(notice.photo_id):
            raise refuse(ErrorCode.ERROR_CODE_INVALID, f"photo_id {notice.photo_id[:80]!r} is not a valid photo id")
        if notice.content_type not in _FORMATS:
            why = f"content type {notice.content_type[:80]!r} is not image/jpeg or image/png"
            raise refuse(ErrorCode.ERROR_CODE_UNSUPPORTED_MEDIA, why)
        if notice.data:
            raise refuse(ErrorCode.ERROR_CODE_INVALID, "inline photo data is not accepted: photos travel through the object store")
        if len(notice.sha256) != 32:
            raise refuse(ErrorCode.ERROR_CODE_INVALID, "sha256 must be 32 bytes")
        if not 0 < notice.size_bytes <= self.settings.photo_max_bytes:
            raise refuse(ErrorCode.ERROR_CODE_OVERSIZED, f"size {notice.size_bytes} is not within 1..{self.settings.photo_max_bytes} bytes")

        # Only ever the notice's own device namespace: the guard checked the device against the subject.
        name = photo_object_name(ctx.device_id, notice.photo_id)
        try:
            info = await self.store.get_info(name)
        except ObjectNotFoundError:
            raise refuse(ErrorCode.ERROR_CODE_FORBIDDEN, f"no photo {name!r} in the {PHOTOS.name!r} bucket for this device") from None
        if info.size != notice.size_bytes:
            raise refuse(ErrorCode.ERROR_CODE_INVALID, f"photo {name!r} has {info.size} bytes, the notice says {notice.size_bytes}")
        try:
            result = await self.store.get(name)
        except DigestMismatchError:
            raise refuse(ErrorCode.ERROR_CODE_INVALID, f"photo {name!r} does not match its own digest (corrupt upload)") from None
        data = bytes(result.data)
        if len(data) != notice.size_bytes or hashlib.sha256(data).digest() != notice.sha256:
            raise refuse(ErrorCode.ERROR_CODE_INVALID, f"photo {name!r} does not match the size and SHA-256 of its notice")
        try:
            size = image_size(data, notice.content_type, max_pixels=self.settings.photo_max_pixels)
        except EventRejected as err:
            raise refuse(err.code, f"photo {name!r}: {err}") from None

        stored = PhotoStored(
            meta=EventMeta(
                event_id=uuid.uuid5(_STORED_NAMESPACE, notice.meta.event_id).hex,
                device_id=ctx.device_id,
                seq=notice.meta.seq,
                created_at=now_timestamp(),
                producer=SERVICE,
                causation_id=notice.meta.event_id,
            ),
            photo_id=notice.photo_id,
            bucket=PHOTOS.name,
            object_name=name,
            content_type=notice.content_type,
            size_bytes=len(data),
            sha256=notice.sha256,
            width=size.width,
            height=size.height,
            target_language=notice.target_language,
        )
        if notice.HasField("captured_at"):
            stored.captured_at.CopyFrom(notice.captured_at)
        await self.publisher.publish(subjects.domain("photo", "stored", ctx.device_id), stored, stream=VISION)
        await self.audit.record(
            ctx.device_id,
            AuditAction.AUDIT_ACTION_PHOTO_STORED,
            reference_id=notice.photo_id,
            detail=f"photo verified and kept as {PHOTOS.name}/{name} ({len(data)} bytes)",
            causation_id=notice.meta.event_id,
            dedup_key=f"vision:stored:{notice.meta.event_id}",
        )

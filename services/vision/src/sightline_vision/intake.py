"""The photo intake: from a photo notice to a stored, announced photo.

The glasses upload a photo's chunks into the hub's object store under their
own upload id (`$O.photos.C.<device>.<nuid>`, a subject only that device may
publish on), then send its PhotoCaptured notice, naming the upload, up the
durable up-link. The glasses never write an object's meta. Nothing from
them is trusted: the intake reads the chunks of an upload in the notice's
own device namespace (stopping as soon as they exceed the notice's size),
checks their size and SHA-256 against the notice, decodes the image
(bounded in pixels, so a decompression bomb is refused), and only then
writes the object `<device>/<photo_id>` (its meta) and announces it on
photo.stored.<device>. A refused upload's chunks are purged; an upload in
another device's namespace is refused and left alone, so one pair of
glasses can neither claim nor destroy another's photo.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import re
import uuid
import warnings
from dataclasses import dataclass

from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError, ObjectNotFoundError
from nats.js.object_store import ObjectStore
from PIL import Image
from sightline.v1.common_pb2 import EventMeta
from sightline.v1.device_pb2 import AuditAction
from sightline.v1.errors_pb2 import ErrorCode
from sightline.v1.vision_pb2 import PhotoCaptured, PhotoStored
from sightline_runtime import objects, subjects
from sightline_runtime.audit import AuditLog
from sightline_runtime.codec import EventRejected
from sightline_runtime.consumer import EventContext
from sightline_runtime.events import now_timestamp
from sightline_runtime.publisher import EventPublisher
from sightline_runtime.streams import PHOTOS, photo_object_name

from sightline_vision.bus import SERVICE, VISION
from sightline_vision.settings import VisionSettings

PHOTO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
# The upload's own token after "<device>.": one subject token, no wildcards.
UPLOAD_NUID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
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
    def __init__(self, publisher: EventPublisher, settings: VisionSettings, js: JetStreamContext, store: ObjectStore) -> None:
        self.publisher = publisher
        self.settings = settings
        # The hub's photos object store, and JetStream to read its chunks and write its metas.
        self.store = store
        self.js = js
        self.audit = AuditLog(publisher, SERVICE)

    async def discard(self, notice: PhotoCaptured, ctx: EventContext) -> None:
        """Privacy mode: the photo is not processed, and not kept either. Only
        the notice's own device namespace is ever touched."""
        if self._own_upload(notice, ctx):
            await objects.purge_chunks(self.js, PHOTOS.name, notice.upload_id)
        if PHOTO_ID.fullmatch(notice.photo_id):
            # Not found: never stored, or deleted by an earlier delivery.
            with contextlib.suppress(ObjectNotFoundError, NotFoundError):
                await self.store.delete(photo_object_name(ctx.device_id, notice.photo_id))

    @staticmethod
    def _own_upload(notice: PhotoCaptured, ctx: EventContext) -> bool:
        device, _, nuid = notice.upload_id.partition(".")
        return device == ctx.device_id and bool(UPLOAD_NUID.fullmatch(nuid))

    async def on_photo_captured(self, notice: PhotoCaptured, ctx: EventContext) -> None:
        def refuse(code: int, why: str) -> EventRejected:
            return EventRejected(code, why, event_id=ctx.event_id, device_id=ctx.device_id)

        if not self._own_upload(notice, ctx):
            # Never touch (nor purge) chunks outside the notice's own device namespace.
            raise refuse(ErrorCode.ERROR_CODE_FORBIDDEN, f"upload {notice.upload_id[:80]!r} is not in this device's namespace")
        try:
            chunks = await self._verified(notice)
            size = image_size(chunks.data, notice.content_type, max_pixels=self.settings.photo_max_pixels)
        except EventRejected as err:
            # A refused upload is never kept: its chunks would only fill the bucket.
            await objects.purge_chunks(self.js, PHOTOS.name, notice.upload_id)
            raise refuse(err.code, f"photo {notice.photo_id[:80]!r}: {err}") from None

        name = photo_object_name(ctx.device_id, notice.photo_id)
        await self._write_object(ctx.device_id, name, notice, chunks)
        data = chunks.data
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

    async def _verified(self, notice: PhotoCaptured) -> objects.Chunks:
        """The upload's bytes, checked against the notice (EventRejected otherwise)."""
        if not PHOTO_ID.fullmatch(notice.photo_id):
            raise EventRejected(ErrorCode.ERROR_CODE_INVALID, f"photo_id {notice.photo_id[:80]!r} is not a valid photo id")
        if notice.content_type not in _FORMATS:
            why = f"content type {notice.content_type[:80]!r} is not image/jpeg or image/png"
            raise EventRejected(ErrorCode.ERROR_CODE_UNSUPPORTED_MEDIA, why)
        if notice.data:
            raise EventRejected(ErrorCode.ERROR_CODE_INVALID, "inline photo data is not accepted: photos travel through the object store")
        if len(notice.sha256) != 32:
            raise EventRejected(ErrorCode.ERROR_CODE_INVALID, "sha256 must be 32 bytes")
        if not 0 < notice.size_bytes <= self.settings.photo_max_bytes:
            why = f"size {notice.size_bytes} is not within 1..{self.settings.photo_max_bytes} bytes"
            raise EventRejected(ErrorCode.ERROR_CODE_OVERSIZED, why)
        try:
            chunks = await objects.read_chunks(self.js, PHOTOS.name, notice.upload_id, max_bytes=notice.size_bytes)
        except objects.ChunksTooLarge as err:
            why = f"the upload is larger than the notice's {notice.size_bytes} bytes ({err})"
            raise EventRejected(ErrorCode.ERROR_CODE_OVERSIZED, why) from None
        except objects.ChunksMissing as err:
            raise EventRejected(ErrorCode.ERROR_CODE_INVALID, f"the upload is incomplete ({err})") from None
        if chunks.count == 0:
            why = f"no upload {notice.upload_id!r} in the {PHOTOS.name!r} bucket for this device"
            raise EventRejected(ErrorCode.ERROR_CODE_FORBIDDEN, why)
        if len(chunks.data) != notice.size_bytes or hashlib.sha256(chunks.data).digest() != notice.sha256:
            why = f"the upload ({len(chunks.data)} bytes) does not match the size and SHA-256 of its notice"
            raise EventRejected(ErrorCode.ERROR_CODE_INVALID, why)
        return chunks

    async def _write_object(self, device_id: str, name: str, notice: PhotoCaptured, chunks: objects.Chunks) -> None:
        """The object's meta, once: a re-run for the same upload (a redelivery
        after a crash) finds it written and leaves it."""
        current = await objects.stored_meta(self.js, PHOTOS.name, name)
        digest = objects.digest(notice.sha256)
        if current is not None and current.get("nuid") == notice.upload_id and current.get("digest") == digest:
            return
        meta = objects.object_meta(
            PHOTOS.name,
            name,
            nuid=notice.upload_id,
            size=len(chunks.data),
            chunks=chunks.count,
            sha256=notice.sha256,
            max_chunk_bytes=chunks.max_chunk_bytes,
        )
        await objects.write_meta(self.js, PHOTOS.name, name, meta)
        replaced = (current or {}).get("nuid")
        if replaced and replaced != notice.upload_id and replaced.startswith(f"{device_id}."):
            # The same photo id taken again: the earlier upload's chunks belong to nothing now.
            await objects.purge_chunks(self.js, PHOTOS.name, replaced)

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

Bystanders first: before the object exists (no meta, so no one can open it
by name), faces are found and blurred unless the device opted in to
unblurred photos (DeviceRecord.keep_unblurred_photos). A blurred photo is
stored as new chunks under `_treated.<device>.<nuid>` (a token no device id
can take: devices write only under their own), then the meta, then the
original's chunks are purged; a redelivery after a crash finds the treated
object and announces it. The audit stream records each photo's treatment.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import re
import uuid
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError, ObjectNotFoundError
from nats.js.object_store import ObjectStore
from PIL import Image
from sightline.v1.device_pb2 import AuditAction
from sightline.v1.errors_pb2 import ErrorCode
from sightline.v1.vision_pb2 import PhotoCaptured, PhotoStored, PhotoTreatment
from sightline_runtime import objects, subjects
from sightline_runtime.audit import AuditLog
from sightline_runtime.codec import EventRejected
from sightline_runtime.consumer import EventContext
from sightline_runtime.events import new_meta
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


@dataclass(frozen=True)
class Treated:
    """A photo as it will be stored: blurred or as taken (sightline_vision.analysis.Protected)."""

    data: bytes
    faces: int
    treatment: int  # PhotoTreatment
    width: int
    height: int


# (photo bytes, content type, keep faces) -> what to store; runs off the event loop.
Protect = Callable[[bytes, str, bool], Awaitable[Treated]]

_TREATMENTS = {
    PhotoTreatment.PHOTO_TREATMENT_NO_FACES: "no face found; stored as taken",
    PhotoTreatment.PHOTO_TREATMENT_FACES_BLURRED: "faces blurred before storing; the original was discarded",
    PhotoTreatment.PHOTO_TREATMENT_ORIGINAL_KEPT: "faces kept unblurred (the device opted in)",
}


def treated_nuid(upload_id: str) -> str:
    """Where a blurred photo's chunks go: `_` cannot start a device id."""
    return f"_treated.{upload_id}"


class PhotoIntake:
    def __init__(
        self, publisher: EventPublisher, settings: VisionSettings, js: JetStreamContext, store: ObjectStore, protect: Protect
    ) -> None:
        self.publisher = publisher
        self.settings = settings
        # The hub's photos object store, and JetStream to read its chunks and write its metas.
        self.store = store
        self.js = js
        self.protect = protect
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
        name = photo_object_name(ctx.device_id, notice.photo_id) if PHOTO_ID.fullmatch(notice.photo_id) else ""
        treated = await self._treated_earlier(name, notice) if name else None
        if treated is None:
            try:
                chunks = await self._verified(notice)
                image_size(chunks.data, notice.content_type, max_pixels=self.settings.photo_max_pixels)
                keep = bool(ctx.device is not None and ctx.device.keep_unblurred_photos)
                treated = await self.protect(chunks.data, notice.content_type, keep)
            except EventRejected as err:
                # A refused upload is never kept: its chunks would only fill the bucket.
                await objects.purge_chunks(self.js, PHOTOS.name, notice.upload_id)
                raise refuse(err.code, f"photo {notice.photo_id[:80]!r}: {err}") from None
            if treated.treatment == PhotoTreatment.PHOTO_TREATMENT_FACES_BLURRED:
                await self._write_treated(ctx.device_id, name, notice, treated)
            else:
                await self._write_object(ctx.device_id, name, notice, chunks)
        await self._announce(notice, ctx, name, treated)

    async def _treated_earlier(self, name: str, notice: PhotoCaptured) -> Treated | None:
        """A blurred photo an earlier delivery stored before it crashed."""
        current = await objects.stored_meta(self.js, PHOTOS.name, name)
        if current is None or current.get("nuid") != treated_nuid(notice.upload_id):
            return None
        chunks = await objects.read_chunks(self.js, PHOTOS.name, current["nuid"], max_bytes=int(current.get("size", 0)))
        size = image_size(chunks.data, notice.content_type, max_pixels=self.settings.photo_max_pixels)
        faces = int(current.get("headers", {}).get("Sightline-Faces", ["0"])[0])
        await objects.purge_chunks(self.js, PHOTOS.name, notice.upload_id)  # may not have happened before the crash
        return Treated(chunks.data, faces, PhotoTreatment.PHOTO_TREATMENT_FACES_BLURRED, size.width, size.height)

    async def _announce(self, notice: PhotoCaptured, ctx: EventContext, name: str, treated: Treated) -> None:
        data = treated.data
        stored = PhotoStored(
            meta=new_meta(
                ctx.device_id,
                SERVICE,
                seq=notice.meta.seq,
                causation_id=notice.meta.event_id,
                event_id=uuid.uuid5(_STORED_NAMESPACE, notice.meta.event_id).hex,
            ),
            photo_id=notice.photo_id,
            bucket=PHOTOS.name,
            object_name=name,
            content_type=notice.content_type,
            size_bytes=len(data),
            sha256=hashlib.sha256(data).digest(),
            width=treated.width,
            height=treated.height,
            target_language=notice.target_language,
            treatment=treated.treatment,
            faces=treated.faces,
        )
        if notice.HasField("captured_at"):
            stored.captured_at.CopyFrom(notice.captured_at)
        await self.publisher.publish(subjects.domain("photo", "stored", ctx.device_id), stored, stream=VISION)
        await self.audit.record(
            ctx.device_id,
            AuditAction.AUDIT_ACTION_PHOTO_TREATED,
            reference_id=notice.photo_id,
            detail=f"{treated.faces} face(s): {_TREATMENTS[treated.treatment]}",
            causation_id=notice.meta.event_id,
            dedup_key=f"vision:treated:{notice.meta.event_id}",
        )
        await self.audit.record(
            ctx.device_id,
            AuditAction.AUDIT_ACTION_PHOTO_STORED,
            reference_id=notice.photo_id,
            detail=f"photo verified and kept as {PHOTOS.name}/{name} ({len(data)} bytes)",
            causation_id=notice.meta.event_id,
            dedup_key=f"vision:stored:{notice.meta.event_id}",
        )

    async def _write_treated(self, device_id: str, name: str, notice: PhotoCaptured, treated: Treated) -> None:
        """The blurred photo as the object: its chunks, then its meta, then the original's chunks go."""
        nuid = treated_nuid(notice.upload_id)
        chunk_bytes = 128 * 1024
        count = await objects.write_chunks(self.js, PHOTOS.name, nuid, treated.data, chunk_bytes=chunk_bytes)
        meta = objects.object_meta(
            PHOTOS.name,
            name,
            nuid=nuid,
            size=len(treated.data),
            chunks=count,
            sha256=hashlib.sha256(treated.data).digest(),
            max_chunk_bytes=chunk_bytes,
            headers={"Sightline-Faces": [str(treated.faces)]},
        )
        current = await objects.stored_meta(self.js, PHOTOS.name, name)
        await objects.write_meta(self.js, PHOTOS.name, name, meta)
        await objects.purge_chunks(self.js, PHOTOS.name, notice.upload_id)
        replaced = (current or {}).get("nuid")
        if replaced and replaced not in (nuid, notice.upload_id) and replaced.removeprefix("_treated.").startswith(f"{device_id}."):
            # The same photo id taken again: the earlier photo's chunks belong to nothing now.
            await objects.purge_chunks(self.js, PHOTOS.name, replaced)

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
        if replaced and replaced != notice.upload_id and replaced.removeprefix("_treated.").startswith(f"{device_id}."):
            # The same photo id taken again: the earlier upload's chunks belong to nothing now.
            await objects.purge_chunks(self.js, PHOTOS.name, replaced)

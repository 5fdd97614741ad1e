"""Photo capture into the edge, and the upload to the hub's object store.

Capture stores the photo in the edge's own object store (`photo_outbox`,
never expiring, refusing new photos when full) with its PhotoCaptured
notice in the object's headers, in one write: a photo is either captured
with its notice or not at all.

The uploader then copies each photo's chunks into the hub's object store,
on `$O.<bucket>.C.<device>.<nuid>` (a subject the device's permissions
scope to itself), through the leaf link. It never writes the meta message:
vision reads the chunks back, verifies them and writes the object
`<device>/<photo_id>` itself (sightline_runtime.objects). Each chunk is
published with Nats-Expected-Last-Subject-Sequence set to the sequence of
the chunk before it, so the hub stores a chunk at most once: when an ack is
lost, the retry is refused with "wrong last sequence: N", which tells the
uploader the chunk is there. Progress (nuid, next chunk, last sequence) is
kept in the edge KV after every chunk, so an upload cut by link loss or an
edge restart resumes at the next chunk. Only when the hub has every chunk
is the notice, naming the upload, written to the up-link, so vision never
sees a notice before its chunks; then the photo leaves the outbox.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass

from nats.errors import ConnectionClosedError, NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import api
from nats.js.client import JetStreamContext
from nats.js.errors import APIError, KeyNotFoundError, NoStreamResponseError, NotFoundError
from nats.js.kv import KeyValue
from nats.js.object_store import ObjectStore
from sightline.v1.vision_pb2 import PhotoCaptured
from sightline_runtime import objects, streams, subjects
from sightline_runtime.streams import BucketSpec, ObjectStoreSpec

from sightline_glasses.uplink import Uplink

log = logging.getLogger(__name__)

OUTBOX = "photo_outbox"
PROGRESS = BucketSpec(name="photo_upload_progress", description="Where each photo upload stands (resumes after link loss or a restart)")
NOTICE_HEADER = "Sightline-Notice"
EXPECTED_LAST_SUBJECT_SEQ = "Nats-Expected-Last-Subject-Sequence"
_ERR_WRONG_LAST_SEQUENCE = 10071
_LAST_SEQ = re.compile(r"wrong last sequence: (\d+)")


class PhotoStoreFull(RuntimeError):
    """The edge's photo outbox is full: the photo was not captured."""


class HubUnreachable(RuntimeError):
    """The hub did not answer (link down, or its photo bucket does not exist)."""


@dataclass
class Progress:
    nuid: str
    next_chunk: int = 0
    last_seq: int = 0

    @classmethod
    def fresh(cls, scope: str = "") -> Progress:
        """A new upload; `scope` (the device id) prefixes the chunk subject
        token, so a device's permissions can cover only its own chunks."""
        return cls(nuid=f"{scope}.{uuid.uuid4().hex}" if scope else uuid.uuid4().hex)


class PhotoOutbox:
    """The edge-local store of photos waiting to upload: `await PhotoOutbox.open(js, max_bytes=...)`."""

    def __init__(self, js: JetStreamContext, obs: ObjectStore, progress: KeyValue, *, max_bytes: int) -> None:
        self.js = js
        self.max_bytes = max_bytes
        self._obs = obs
        self._progress = progress

    @classmethod
    async def open(cls, js: JetStreamContext, *, max_bytes: int) -> PhotoOutbox:
        spec = ObjectStoreSpec(name=OUTBOX, description="Photos waiting for the link to the hub", ttl_s=None, max_bytes=max_bytes)
        obs = await streams.ensure_object_store(js, spec)
        progress = await streams.ensure_bucket(js, PROGRESS)
        return cls(js, obs, progress, max_bytes=max_bytes)

    async def add(self, notice: PhotoCaptured, data: bytes) -> None:
        meta = api.ObjectMeta(name=notice.photo_id, headers={NOTICE_HEADER: base64.b64encode(notice.SerializeToString()).decode()})
        try:
            await self._obs.put(notice.photo_id, data, meta=meta)
        except APIError as err:
            if err.err_code in (10047, 10077):
                full = f"the edge photo store is full ({self.max_bytes} bytes waiting for the hub): photo not taken"
                raise PhotoStoreFull(full) from None
            raise

    async def pending(self) -> list[PhotoCaptured]:
        """Captured photos not yet uploaded, oldest first."""
        try:
            infos = await self._obs.list(ignore_deletes=True)
        except NotFoundError:
            return []
        notices = []
        for info in infos:
            encoded = (info.headers or {}).get(NOTICE_HEADER)
            if not encoded:
                log.error("photo in the outbox without its notice; leaving it", extra={"photo_id": info.name})
                continue
            notices.append(PhotoCaptured.FromString(base64.b64decode(encoded)))
        return notices

    async def count(self) -> int:
        """Photos waiting, without reading them: one meta subject per photo
        (an uploaded photo's meta is purged, not marked deleted)."""
        info = await self.js.stream_info(streams.object_store_stream(OUTBOX), subjects_filter=f"$O.{OUTBOX}.M.>")
        return len(info.state.subjects or {})

    async def read(self, photo_id: str) -> bytes:
        return (await self._obs.get(photo_id)).data

    async def remove(self, photo_id: str) -> None:
        # Purge the chunks and the meta (delete() would leave a marker per photo forever).
        info = await self._obs.get_info(photo_id, show_deleted=True)
        stream = streams.object_store_stream(OUTBOX)
        await self.js.purge_stream(stream, subject=objects.chunk_subject(OUTBOX, info.nuid))
        await self.js.purge_stream(stream, subject=objects.meta_subject(OUTBOX, photo_id))

    async def progress(self, photo_id: str) -> Progress | None:
        try:
            entry = await self._progress.get(photo_id)
        except KeyNotFoundError:
            return None
        return Progress(**json.loads(entry.value))

    async def save_progress(self, photo_id: str, progress: Progress) -> None:
        await self._progress.put(photo_id, json.dumps(asdict(progress)).encode())

    async def forget_progress(self, photo_id: str) -> None:
        with contextlib.suppress(KeyNotFoundError):
            await self._progress.purge(photo_id)


class PhotoUploader:
    """Uploads the outbox to the hub, oldest photo first, for as long as it runs."""

    def __init__(
        self,
        js: JetStreamContext,
        device_id: str,
        outbox: PhotoOutbox,
        uplink: Uplink,
        *,
        bucket: str,
        chunk_bytes: int,
        on_uploaded: Callable[[PhotoCaptured], None] | None = None,
    ) -> None:
        self.js = js
        self.device_id = subjects.check_device_id(device_id)
        self.outbox = outbox
        self.uplink = uplink
        self.bucket = bucket
        self.chunk_bytes = chunk_bytes
        self.on_uploaded = on_uploaded
        self._wake = asyncio.Event()
        self.uploaded = 0

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        backoff_s = 0.25
        while True:
            self._wake.clear()
            try:
                for notice in await self.outbox.pending():
                    await self.upload(notice)
                backoff_s = 0.25
            except HubUnreachable as err:
                log.debug("photo upload paused: %s", err)
                backoff_s = min(5.0, backoff_s * 2)
                await self._sleep(backoff_s)
                continue
            except (ConnectionClosedError, asyncio.CancelledError):
                raise
            except Exception:
                # Never let one bad photo stop the others for good: log, wait, retry.
                log.exception("photo upload failed; retrying", extra={"device_id": self.device_id})
                await self._sleep(5.0)
                continue
            await self._sleep(5.0)

    async def _sleep(self, seconds: float) -> None:
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for can turn a
        # cancel that lands with its timeout into TimeoutError, and a stop()
        # would then wait on this task forever.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()

    async def upload(self, notice: PhotoCaptured) -> None:
        data = await self.outbox.read(notice.photo_id)
        if hashlib.sha256(data).digest() != notice.sha256:
            # Flash corruption on the glasses: uploading it would be refused by the hub anyway.
            log.error("photo in the outbox does not match its notice; dropping it", extra={"photo_id": notice.photo_id})
            await self.outbox.remove(notice.photo_id)
            await self.outbox.forget_progress(notice.photo_id)
            return
        progress = await self.outbox.progress(notice.photo_id) or Progress.fresh(self.device_id)

        async def save(progress: Progress) -> None:
            await self.outbox.save_progress(notice.photo_id, progress)

        await put_chunks(self.js, self.bucket, data, chunk_bytes=self.chunk_bytes, progress=progress, save=save)
        # The event id (the Nats-Msg-Id) is unchanged, so a re-send after a crash is still dropped as a copy.
        notice.upload_id = progress.nuid
        await self.uplink.publish(subjects.up_photo(self.device_id), notice)
        await self.outbox.remove(notice.photo_id)
        await self.outbox.forget_progress(notice.photo_id)
        self.uploaded += 1
        log.info("photo uploaded", extra={"photo_id": notice.photo_id, "upload_id": progress.nuid, "size": len(data)})
        if self.on_uploaded is not None:
            self.on_uploaded(notice)


async def put_chunks(
    js: JetStreamContext,
    bucket: str,
    data: bytes,
    *,
    chunk_bytes: int,
    progress: Progress,
    save: Callable[[Progress], Awaitable[None]],
) -> None:
    """Write `data` as the chunks of upload `progress.nuid` into the hub's
    `bucket`, each chunk at most once, resuming from `progress` (saved after
    every chunk). The object's meta is vision's to write."""
    chunks = [data[i : i + chunk_bytes] for i in range(0, len(data), chunk_bytes)] or [b""]
    while progress.next_chunk < len(chunks):
        subject = objects.chunk_subject(bucket, progress.nuid)
        try:
            headers = {EXPECTED_LAST_SUBJECT_SEQ: str(progress.last_seq)}
            ack = await _hub(bucket, js.publish(subject, chunks[progress.next_chunk], headers=headers))
            progress.last_seq = ack.seq
        except APIError as err:
            stored = _stored_last_seq(err)
            if stored is None:
                raise
            if stored <= progress.last_seq:
                # The hub no longer has our earlier chunks (purged, expired): start this object over.
                log.warning("photo upload restarts from its first chunk", extra={"upload_id": progress.nuid})
                fresh = Progress.fresh(progress.nuid.rpartition(".")[0])
                progress.nuid, progress.next_chunk, progress.last_seq = fresh.nuid, 0, 0
                await save(progress)
                continue
            # This chunk was stored but its ack was lost: it is the one at `stored`.
            progress.last_seq = stored
        progress.next_chunk += 1
        await save(progress)


async def _hub(bucket: str, publish: Awaitable[api.PubAck]) -> api.PubAck:
    try:
        return await publish
    except (NoRespondersError, NoStreamResponseError, NatsTimeoutError, TimeoutError) as err:
        raise HubUnreachable(f"the hub's {bucket!r} bucket did not answer ({type(err).__name__})") from None


def _stored_last_seq(err: APIError) -> int | None:
    if err.err_code != _ERR_WRONG_LAST_SEQUENCE:
        return None
    match = _LAST_SEQ.search(err.description or "")
    return int(match[1]) if match else None

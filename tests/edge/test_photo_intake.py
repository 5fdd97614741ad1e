"""The hub's photo intake (vision) trusts nothing from the glasses: the
glasses upload chunks only, and vision reads them back, verifies them and
writes the object itself. Every refusal is dead-lettered and reported, never
retried in a loop, its chunks are purged (never another device's), and a
refused notice announces and stores nothing."""

import pytest
from sightline.v1.errors_pb2 import ErrorCode, ErrorEvent
from sightline.v1.vision_pb2 import PhotoCaptured, PhotoStored
from sightline_glasses.photo_upload import Progress, put_chunks
from sightline_runtime import objects
from sightline_runtime.consumer import DLQ_REASON
from sightline_runtime.events import HEADER_MSG_ID, event_headers, new_meta
from sightline_runtime.processes import port_is_free
from sightline_runtime.pytest_plugin import running_service
from sightline_vision.app import create_service as create_vision

from tests.edge.helpers import make_photo, png_bomb, sha256, stream_messages, subject_count, wait_for


def notice_for(device: str, photo_id: str, image: bytes, upload_id: str, **fields) -> PhotoCaptured:
    values = {"content_type": "image/jpeg", "size_bytes": len(image), "sha256": sha256(image), "upload_id": upload_id} | fields
    return PhotoCaptured(meta=new_meta(device, "glasses"), photo_id=photo_id, **values)


async def upload(js, device: str, data: bytes) -> str:
    """Write chunks as the glasses' uploader does (no checks on the content); returns the upload id."""

    async def keep(progress):
        return None

    progress = Progress.fresh(device)
    await put_chunks(js, "photos", data, chunk_bytes=16 * 1024, progress=progress, save=keep)
    return progress.nuid


async def chunk_count(js, upload_id: str) -> int:
    return await subject_count(js, "OBJ_photos", objects.chunk_subject("photos", upload_id))


async def send(js, device: str, notice: PhotoCaptured, **headers) -> None:
    await js.publish(f"glasses.{device}.up.photo", notice.SerializeToString(), headers=event_headers(notice) | headers, stream="GLASSES_UP")


def handled(vision, outcome: str) -> float:
    labels = {"service": "vision", "handler": "photo_intake", "outcome": outcome}
    return vision.metrics.registry.get_sample_value("sightline_events_handled_total", labels) or 0.0


def rejected(vision, reason: str) -> float:
    labels = {"service": "vision", "handler": "photo_intake", "reason": reason}
    return vision.metrics.registry.get_sample_value("sightline_events_rejected_total", labels) or 0.0


@pytest.fixture
async def hub_js(hub_nc, provision, vision):
    for device in ("a", "b"):
        await provision(device)
    return hub_nc.jetstream()


INVALID, FORBIDDEN, MEDIA = ErrorCode.ERROR_CODE_INVALID, ErrorCode.ERROR_CODE_FORBIDDEN, ErrorCode.ERROR_CODE_UNSUPPORTED_MEDIA
OVERSIZED = ErrorCode.ERROR_CODE_OVERSIZED
JPEG = make_photo(21)
GARBAGE = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40  # a JPEG signature on bytes that decode to nothing
BOMB = png_bomb()


def _notice(device, photo_id, image=JPEG, **fields):
    return lambda upload_id: notice_for(device, photo_id, image, upload_id, **fields)


CASES = [
    # (name, uploading device or None, uploaded bytes, notice device, notice builder, reason, code, chunks purged)
    ("another device's upload", "a", JPEG, "b", _notice("b", "p1"), "forbidden", FORBIDDEN, False),
    ("sha256 mismatch", "a", JPEG, "a", _notice("a", "p2", sha256=sha256(b"other")), "invalid", INVALID, True),
    ("more bytes than the notice says", "a", JPEG, "a", _notice("a", "p3", size_bytes=len(JPEG) // 3), "oversized", OVERSIZED, True),
    ("over the photo limit", "a", JPEG, "a", _notice("a", "p3b", size_bytes=9 << 20), "oversized", OVERSIZED, True),
    ("missing chunks", "a", JPEG[: 2 * 16 * 1024], "a", _notice("a", "p3c"), "invalid", INVALID, True),
    ("never uploaded", None, JPEG, "a", _notice("a", "p4"), "forbidden", FORBIDDEN, True),
    ("no upload id", None, JPEG, "a", lambda _: notice_for("a", "p4b", JPEG, ""), "forbidden", FORBIDDEN, True),
    ("wildcard upload id", None, JPEG, "a", lambda _: notice_for("a", "p4c", JPEG, "a.>"), "forbidden", FORBIDDEN, True),
    ("path in photo id", "a", JPEG, "a", _notice("a", "../b/p1"), "invalid", INVALID, True),
    ("inline data", "a", JPEG, "a", _notice("a", "p6", data=JPEG), "invalid", INVALID, True),
    ("not a photo type", "a", JPEG, "a", _notice("a", "p7", content_type="text/html"), "unsupported_media", MEDIA, True),
    ("undecodable image", "a", GARBAGE, "a", _notice("a", "p8", GARBAGE), "unsupported_media", MEDIA, True),
    ("png decompression bomb", "a", BOMB, "a", _notice("a", "p9", BOMB, content_type="image/png"), "unsupported_media", MEDIA, True),
]


@pytest.mark.parametrize(("name", "uploader", "data", "device", "notice", "reason", "code", "purged"), CASES, ids=[c[0] for c in CASES])
async def test_a_bad_upload_is_refused_purged_dead_lettered_and_reported(
    hub_js, vision, name, uploader, data, device, notice, reason, code, purged
):
    js = hub_js
    upload_id = await upload(js, uploader, data) if uploader else f"{device}.neveruploaded"
    uploaded = await chunk_count(js, upload_id)
    event = notice(upload_id)
    await send(js, device, event)
    await wait_for(lambda: rejected(vision, reason) == 1, 15, f"the notice refused as {reason}")

    [dead] = await wait_for(lambda: stream_messages(js, "DEAD_LETTERS", "dlq.vision.photo_intake"), 10, "the dead letter")
    assert dead.data == event.SerializeToString()
    assert dead.headers[DLQ_REASON] == reason
    errors = await wait_for(lambda: stream_messages(js, "ERRORS", f"errors.vision.{device}"), 10, "the ErrorEvent")
    [error] = [ErrorEvent.FromString(m.data) for m in errors]
    assert error.code == code
    assert error.failed_event_id == event.meta.event_id
    assert await subject_count(js, "VISION", "photo.stored.>") == 0, "a refused notice announces nothing"
    assert await subject_count(js, "OBJ_photos", "$O.photos.M.>") == 0, "and stores no object"
    if uploader:
        assert uploaded > 0
        assert await chunk_count(js, upload_id) == (0 if purged else uploaded), "purged unless another device's"
    info = await js.consumer_info("GLASSES_UP", "vision-photo-intake")
    assert info.num_ack_pending == 0
    assert info.num_redelivered == 0, "refused once, never retried"


async def test_good_chunks_become_a_readable_object_announced_once(hub_js, vision, vision_engines):
    js = hub_js
    data = make_photo(22, kind="png", size=(400, 300))
    upload_id = await upload(js, "a", data)
    event = notice_for("a", "good", data, upload_id, content_type="image/png")
    await send(js, "a", event)
    await wait_for(lambda: subject_count(js, "VISION", "photo.stored.a"), 15, "PhotoStored")
    store = await js.object_store("photos")
    result = await store.get("a/good")  # nats-py reads vision's meta and checks the digest
    assert result.data == data
    assert (result.info.nuid, result.info.size, result.info.chunks) == (upload_id, len(data), await chunk_count(js, upload_id))

    # A redelivery that got past the inbox: vision crashed before its "done" mark
    # was stored (purged here) and came back without its memory (a new process).
    # The handler runs again, finds the meta written and announces nothing new.
    vision.stop()
    # Stopped, not only its port free: its consumer and the pending done mark drain after the port closes.
    await wait_for(lambda: vision.stopped and port_is_free(vision.settings.http_port), 30, "the first vision stopped")
    inbox = await js.key_value("inbox_vision")
    await inbox.purge(f"photo_intake.{event.meta.event_id}")
    async with running_service(create_vision(vision.settings, engines=vision_engines)) as again:
        await send(js, "a", event, **{HEADER_MSG_ID: "redelivered"})
        await wait_for(lambda: handled(again, "ok") == 1, 15, "the copy handled again")
        assert await subject_count(js, "VISION", "photo.stored.a") == 1, "one PhotoStored"
        assert await subject_count(js, "OBJ_photos", "$O.photos.M.>") == 1
        assert (await store.get("a/good")).data == data

        # The same photo id taken again: the new upload replaces it and the old chunks go.
        again_data = make_photo(23)
        second = await upload(js, "a", again_data)
        await send(js, "a", notice_for("a", "good", again_data, second))
        await wait_for(lambda: handled(again, "ok") == 2, 15, "the second photo handled")
        assert (await store.get("a/good")).data == again_data
        assert await chunk_count(js, upload_id) == 0
        assert await subject_count(js, "VISION", "photo.stored.a") == 2


async def test_a_duplicate_notice_announces_the_photo_once(hub_js, vision):
    js = hub_js
    upload_id = await upload(js, "a", JPEG)
    event = notice_for("a", "dup", JPEG, upload_id)
    await send(js, "a", event)
    # The same notice again after the JetStream window (another Nats-Msg-Id gets it past the stream).
    await send(js, "a", event, **{HEADER_MSG_ID: "resent-after-the-window"})
    await wait_for(lambda: handled(vision, "duplicate") == 1, 15, "the copy counted as a duplicate")
    assert await subject_count(js, "GLASSES_UP", "glasses.a.up.photo") == 2, "both copies reached the stream"
    [stored] = [PhotoStored.FromString(m.data) for m in await stream_messages(js, "VISION", "photo.stored.a")]
    assert (stored.object_name, stored.width, stored.height) == ("a/dup", 320, 240)
    assert stored.sha256 == sha256(JPEG)
    assert stored.meta.causation_id == event.meta.event_id
    assert handled(vision, "ok") == 1

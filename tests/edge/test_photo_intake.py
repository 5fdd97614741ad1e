"""The hub's photo intake (vision) trusts nothing from the glasses: every
refusal is dead-lettered and reported, never retried in a loop, and a
refused notice announces nothing."""

import pytest
from sightline.v1.errors_pb2 import ErrorCode, ErrorEvent
from sightline.v1.vision_pb2 import PhotoCaptured, PhotoStored
from sightline_glasses.photo_upload import Progress, put_object
from sightline_runtime import streams
from sightline_runtime.consumer import DLQ_REASON
from sightline_runtime.events import HEADER_MSG_ID, event_headers, new_meta

from tests.edge.helpers import make_photo, png_bomb, sha256, stream_messages, subject_count, wait_for


def notice_for(device: str, photo_id: str, image: bytes, **fields) -> PhotoCaptured:
    values = {"content_type": "image/jpeg", "size_bytes": len(image), "sha256": sha256(image)} | fields
    return PhotoCaptured(meta=new_meta(device, "glasses"), photo_id=photo_id, **values)


async def upload(js, name: str, data: bytes) -> None:
    """Write an object as the glasses' uploader does (no checks on the content)."""

    async def keep(progress):
        return None

    await put_object(js, "photos", name, data, chunk_bytes=64 * 1024, progress=Progress.fresh(), save=keep)


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
JPEG = make_photo(21)
GARBAGE = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40  # a JPEG signature on bytes that decode to nothing

CASES = [
    # (name, object name or None, object bytes, notice device, notice builder, reason, code)
    ("another device's photo", "a/p1", JPEG, "b", lambda: notice_for("b", "p1", JPEG), "forbidden", FORBIDDEN),
    ("sha256 mismatch", "a/p2", JPEG, "a", lambda: notice_for("a", "p2", JPEG, sha256=sha256(b"other")), "invalid", INVALID),
    ("size mismatch", "a/p3", JPEG, "a", lambda: notice_for("a", "p3", JPEG, size_bytes=len(JPEG) - 1), "invalid", INVALID),
    ("never uploaded", None, JPEG, "a", lambda: notice_for("a", "p4", JPEG), "forbidden", FORBIDDEN),
    ("path in photo id", "a/p5", JPEG, "a", lambda: notice_for("a", "../b/p1", JPEG), "invalid", INVALID),
    ("inline data", "a/p6", JPEG, "a", lambda: notice_for("a", "p6", JPEG, data=JPEG), "invalid", INVALID),
    ("not a photo type", "a/p7", JPEG, "a", lambda: notice_for("a", "p7", JPEG, content_type="text/html"), "unsupported_media", MEDIA),
    ("undecodable image", "a/p8", GARBAGE, "a", lambda: notice_for("a", "p8", GARBAGE), "unsupported_media", MEDIA),
    (
        "png decompression bomb",
        "a/p9",
        png_bomb(),
        "a",
        lambda: notice_for("a", "p9", png_bomb(), content_type="image/png"),
        "unsupported_media",
        MEDIA,
    ),
]


@pytest.mark.parametrize(("name", "obj", "data", "device", "notice", "reason", "code"), CASES, ids=[c[0] for c in CASES])
async def test_a_bad_notice_is_refused_dead_lettered_and_reported(hub_js, vision, name, obj, data, device, notice, reason, code):
    js = hub_js
    if obj is not None:
        await upload(js, obj, data)
    event = notice()
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
    info = await js.consumer_info("GLASSES_UP", streams.VISION_PHOTO_INTAKE.durable)
    assert info.num_ack_pending == 0
    assert info.num_redelivered == 0, "refused once, never retried"


async def test_a_duplicate_notice_announces_the_photo_once(hub_js, vision):
    js = hub_js
    await upload(js, "a/dup", JPEG)
    event = notice_for("a", "dup", JPEG)
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

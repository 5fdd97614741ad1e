"""Issue 9, the vision service on a real nats-server with its real models:
photos taken by glasses are stored with bystanders' faces blurred (unless
the device opted in), read (text, tags, codes), indexed in the photo library
and announced as VisionResult; personal data read in them is masked; a
wearer deletes a photo with its index entry; bad stored-photo events are
refused with an error event and the service keeps working."""

from __future__ import annotations

import asyncio
import hashlib
import io

import numpy as np
import pytest
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.errors import ObjectNotFoundError
from PIL import Image
from sightline.v1.device_pb2 import AuditAction
from sightline.v1.errors_pb2 import ErrorCode, ErrorEvent
from sightline.v1.vision_pb2 import (
    DeletePhotoRequest,
    DeletePhotoResponse,
    GetPhotoRequest,
    GetPhotoResponse,
    PhotoStored,
    PhotoTreatment,
    SearchPhotosRequest,
    SearchPhotosResponse,
    VisionResult,
)
from sightline_glasses.agent import GlassesAgent
from sightline_runtime import subjects
from sightline_runtime.audit import read_audit
from sightline_runtime.events import event_headers, new_meta
from sightline_vision.app import create_service
from sightline_vision.bus import VISION
from sightline_vision.engines import samples
from sightline_vision.settings import VisionSettings
from skimage import data as skdata

pytestmark = pytest.mark.slow


@pytest.fixture
async def vision(nats_server, run_service, http_port, vision_engines, tmp_path):
    settings = VisionSettings(
        nats_url=nats_server.url,
        http_port=http_port,
        http_host="127.0.0.1",
        log_level="WARNING",
        library_db_url=f"sqlite+aiosqlite:///{tmp_path / 'photos.db'}",
    )
    return await run_service(create_service(settings, engines=vision_engines), timeout_s=60)


async def _next(js, subject: str, message_type, *, photo_id: str, timeout_s: float = 60.0):
    sub = await js.subscribe(subject, stream=VISION.name, config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL), ordered_consumer=True)
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                event = message_type.FromString((await sub.next_msg(timeout=timeout_s)).data)
                if event.photo_id == photo_id:
                    return event
    finally:
        await sub.unsubscribe()


async def _request(nc, device: str, method: str, request, response_type):
    reply = await nc.request(subjects.device_request(device, "vision", method), request.SerializeToString(), timeout=10)
    return response_type.FromString(reply.data), dict(reply.headers or {})


async def _take(nats_server, device: str, photo: bytes, **options) -> str:
    async with GlassesAgent.connect(device, nats_server.url) as glasses:
        return await glasses.send_photo(photo, **options)


async def test_a_sign_photo_is_read_indexed_and_findable(vision, nats_server, nc, registry):
    await registry.add("signs")
    image, placed = samples.sign_photo(("出口", "禁止吸烟", "收银台", "EXIT"))
    photo_id = await _take(nats_server, "signs", samples.jpeg_bytes(image), target_language="en")
    js = nc.jetstream()
    result = await _next(js, "vision.result.signs", VisionResult, photo_id=photo_id)
    assert (result.image_width, result.image_height) == (1280, 960)
    assert result.target_language == "en"
    assert result.treatment == PhotoTreatment.PHOTO_TREATMENT_NO_FACES
    read = {r.text: r for r in result.text_regions}
    for text, (x, y, w, h) in placed:
        assert text in read, f"{text!r} not read: {sorted(read)}"
        box = read[text].box
        # The region lies over the sign's text (centres within a third of its size).
        assert abs((box.x + box.width / 2) - (x + w / 2)) < w / 3 + 0.01
        assert abs((box.y + box.height / 2) - (y + h / 2)) < h / 3 + 0.01
    assert read["出口"].language == "zh"
    assert read["EXIT"].language == "en"
    assert result.tags, "whole-photo tags"
    assert result.ocr_engine
    assert result.tagger_engine

    found, headers = await _request(nc, "signs", "search_photos", SearchPhotosRequest(query="吸烟"), SearchPhotosResponse)
    assert "Nats-Service-Error-Code" not in headers, headers
    assert [p.photo_id for p in found.photos] == [photo_id]
    english, _ = await _request(nc, "signs", "search_photos", SearchPhotosRequest(query="exit"), SearchPhotosResponse)
    assert [p.photo_id for p in english.photos] == [photo_id]
    nothing, _ = await _request(nc, "signs", "search_photos", SearchPhotosRequest(query="pharmacy"), SearchPhotosResponse)
    assert nothing.match_count == 0


async def test_faces_are_blurred_before_storing_unless_the_device_opted_in(vision, vision_engines, nats_server, nc, registry):
    await registry.add("street")
    await registry.add("optin")
    await registry.update("optin", lambda record: setattr(record, "keep_unblurred_photos", True) or True)
    original = samples.jpeg_bytes(Image.fromarray(skdata.astronaut()))
    js = nc.jetstream()
    store = await js.object_store("photos")

    blurred_id = await _take(nats_server, "street", original)
    stored = await _next(js, "photo.stored.street", PhotoStored, photo_id=blurred_id)
    assert stored.treatment == PhotoTreatment.PHOTO_TREATMENT_FACES_BLURRED
    assert stored.faces >= 1
    kept = (await store.get(stored.object_name)).data
    assert kept != original
    assert hashlib.sha256(kept).digest() == stored.sha256
    # The blurred photo is what every reader gets; no face is found in it any more.
    result = await _next(js, "vision.result.street", VisionResult, photo_id=blurred_id)
    assert result.treatment == PhotoTreatment.PHOTO_TREATMENT_FACES_BLURRED
    assert vision_engines.faces.detect(np.asarray(Image.open(io.BytesIO(kept)).convert("RGB"))) == []

    kept_id = await _take(nats_server, "optin", original)
    opted = await _next(js, "photo.stored.optin", PhotoStored, photo_id=kept_id)
    assert opted.treatment == PhotoTreatment.PHOTO_TREATMENT_ORIGINAL_KEPT
    assert (await store.get(opted.object_name)).data == original

    # The audit trail says what was done to each.
    treated = [r for r in await read_audit(js, "street") if r.action == AuditAction.AUDIT_ACTION_PHOTO_TREATED]
    assert [r.reference_id for r in treated] == [blurred_id]
    assert "blurred" in treated[0].detail
    opted_in = [r for r in await read_audit(js, "optin") if r.action == AuditAction.AUDIT_ACTION_PHOTO_TREATED]
    assert "kept unblurred" in opted_in[0].detail


async def test_personal_data_read_in_a_photo_is_masked(vision, nats_server, nc, registry):
    await registry.add("card")
    image, _ = samples.sign_photo(("电话13812345678", "EXIT"))
    photo_id = await _take(nats_server, "card", samples.jpeg_bytes(image))
    result = await _next(nc.jetstream(), "vision.result.card", VisionResult, photo_id=photo_id)
    phone = [r for r in result.text_regions if r.masked]
    assert phone, [r.text for r in result.text_regions]
    assert "13812345678" not in " ".join(r.text for r in result.text_regions)
    assert "*" in phone[0].text
    found, _ = await _request(nc, "card", "search_photos", SearchPhotosRequest(query="13812345678"), SearchPhotosResponse)
    assert found.match_count == 0, "the number is not in the index either"


async def test_codes_are_decoded(vision, nats_server, nc, registry):
    await registry.add("codes")
    scene = samples.street_scene((1024, 768))
    scene, _ = samples.place(scene, samples.render_code("QRCode", "https://example.com/menu/42"), (0.1, 0.1))
    scene, _ = samples.place(scene, samples.render_code("EAN13", "6901234567892"), (0.55, 0.55))
    photo_id = await _take(nats_server, "codes", samples.png_bytes(scene))
    result = await _next(nc.jetstream(), "vision.result.codes", VisionResult, photo_id=photo_id)
    assert {(c.format, c.text) for c in result.codes} >= {("QRCode", "https://example.com/menu/42"), ("EAN13", "6901234567892")}


async def test_a_wearer_deletes_a_photo_and_its_index_entry(vision, nats_server, nc, registry):
    await registry.add("del")
    image, _ = samples.sign_photo(("出口",))
    photo_id = await _take(nats_server, "del", samples.jpeg_bytes(image))
    js = nc.jetstream()
    await _next(js, "vision.result.del", VisionResult, photo_id=photo_id)
    got, _ = await _request(nc, "del", "get_photo", GetPhotoRequest(photo_id=photo_id), GetPhotoResponse)
    assert got.photo.photo_id == photo_id
    deleted, _ = await _request(nc, "del", "delete_photo", DeletePhotoRequest(photo_id=photo_id), DeletePhotoResponse)
    assert deleted.deleted
    gone, _ = await _request(nc, "del", "get_photo", GetPhotoRequest(photo_id=photo_id), GetPhotoResponse)
    assert not gone.HasField("photo")
    store = await js.object_store("photos")
    with pytest.raises(ObjectNotFoundError):
        await store.get(f"del/{photo_id}")
    assert any(r.action == AuditAction.AUDIT_ACTION_PHOTO_DELETED for r in await read_audit(js, "del"))
    again, _ = await _request(nc, "del", "delete_photo", DeletePhotoRequest(photo_id=photo_id), DeletePhotoResponse)
    assert not again.deleted


async def test_bad_stored_photo_events_are_refused_and_vision_keeps_working(vision, nats_server, nc, registry):
    await registry.add("bad")
    js = nc.jetstream()
    forged = PhotoStored(meta=new_meta("bad", "vision"), photo_id="x1", bucket="photos", object_name="other/x1")
    missing = PhotoStored(meta=new_meta("bad", "vision"), photo_id="gone", bucket="photos", object_name="bad/gone")
    subject = subjects.domain("photo", "stored", "bad")
    for event in (forged, missing):
        await js.publish(subject, event.SerializeToString(), headers=event_headers(event), stream=VISION.name)
    await js.publish(subjects.domain("photo", "stored", "bad"), b"\xff\x00 not protobuf", stream=VISION.name)
    sub = await js.subscribe(
        "errors.vision.>", stream="ERRORS", config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL), ordered_consumer=True
    )
    errors = [ErrorEvent.FromString((await sub.next_msg(timeout=20)).data) for _ in range(2)]
    await sub.unsubscribe()
    assert sorted(e.code for e in errors) == sorted([ErrorCode.ERROR_CODE_INVALID, ErrorCode.ERROR_CODE_MALFORMED])
    assert any("other/x1" in e.message for e in errors)
    # The missing photo is skipped and counted, not an error.
    deleted = vision.metrics.registry.get_sample_value("sightline_vision_photos_total", {"outcome": "deleted"})
    assert deleted == 1.0
    image, _ = samples.sign_photo(("出口",))
    photo_id = await _take(nats_server, "bad", samples.jpeg_bytes(image))
    assert (await _next(js, "vision.result.bad", VisionResult, photo_id=photo_id)).text_regions

"""Authorisation against a real nats-server with JWT auth on: each denial is
attempted and refused (the client's error callback reports the permissions
violation, or nothing arrives), and the allowed actions succeed, so none of
these tests can pass by accident."""

from __future__ import annotations

import asyncio
import json

import nats
import pytest
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import api
from sightline.v1.errors_pb2 import ErrorCode, ErrorEvent
from sightline.v1.input_pb2 import Confirmation, DeviceInput
from sightline.v1.vision_pb2 import PhotoCaptured
from sightline_cli import tls
from sightline_glasses.agent import GlassesAgent
from sightline_runtime import auth, objects, partitions, streams
from sightline_runtime.events import event_headers, new_meta
from sightline_runtime.processes import free_port
from sightline_vision.app import create_service as create_vision
from sightline_vision.settings import VisionSettings

from tests.edge.helpers import make_photo, sha256, stream_messages, subject_count, wait_for
from tests.security.conftest import connect

DENIED_PUBLISH = "permissions violation for publish"
DENIED_SUBSCRIBE = "permissions violation for subscription"


async def test_anonymous_and_bad_credentials_are_refused(secure_hub, tmp_path):
    with pytest.raises(nats.errors.Error, match="Authorization Violation"):
        await nats.connect(secure_hub.url, allow_reconnect=False, connect_timeout=2)
    # Well-formed credentials signed by another authority (another deployment's keys).
    stranger = auth.Authority.load_or_create(tmp_path / "other-auth")
    text, _ = stranger.issue("intruder")
    forged = auth.write_secret(tmp_path / "forged.creds", text)
    with pytest.raises(nats.errors.Error, match="Authorization Violation"):
        await nats.connect(secure_hub.url, user_credentials=str(forged), allow_reconnect=False, connect_timeout=2)
    # A seed that does not match its JWT (the JWT of device a with another key).
    genuine, _ = secure_hub.security.authority().issue("device-a", auth.device_permissions("a"))
    jwt = genuine.split("-----BEGIN NATS USER JWT-----\n")[1].split("\n")[0]
    mismatched = auth.write_secret(tmp_path / "mismatched.creds", auth.creds_text(jwt, auth.new_seed(0x14 << 3)))
    with pytest.raises(nats.errors.Error, match="Authorization Violation"):
        await nats.connect(secure_hub.url, user_credentials=str(mismatched), allow_reconnect=False, connect_timeout=2)
    # The admin's real credentials connect.
    nc, _ = await connect(secure_hub.url, secure_hub.creds("admin"))
    await nc.close()


async def test_a_device_reaches_only_its_own_subjects(secure_hub, admin, device_creds):
    creds_a = await device_creds("a")
    await device_creds("b")
    js = admin.jetstream()
    await streams.ensure_object_store(js, streams.PHOTOS)
    seen: list[str] = []

    async def record(msg):
        seen.append(msg.subject)

    await admin.subscribe(">", cb=record)
    await admin.flush()
    nc, errors = await connect(secure_hub.url, creds_a, inbox_prefix=auth.device_inbox_prefix("a"))
    try:
        # Allowed: its own durable input (JetStream stores it), audio (mapped to its partition), photo chunks, display.
        ack = await nc.jetstream().publish("glasses.a.up.input", b"own", timeout=3)
        assert ack.stream == "GLASSES_UP"
        await nc.publish("glasses.a.up.audio", b"frame")
        chunk = await nc.jetstream().publish("$O.photos.C.a.upload1", b"chunk", timeout=3)
        assert chunk.stream == "OBJ_photos"
        displays = await nc.subscribe("glasses.a.down.display")
        await nc.flush()
        await admin.publish("glasses.a.down.display", b"for a")
        assert (await displays.next_msg(timeout=2)).data == b"for a"
        await _wait(lambda: f"glasses.a.up.audio.{partitions.partition_of('a')}" in seen, "a's audio at the hub")

        # Denied: another device's up-link (a confirmation on b's subject too), internal and payment
        # subjects, the hub's JetStream API, another device's photo chunks.
        confirmation = DeviceInput(meta=new_meta("b", "glasses"), confirmation=Confirmation(reference_id="pi-1", approved=True))
        await nc.publish("glasses.b.up.input", confirmation.SerializeToString(), headers=event_headers(confirmation))
        denied = (
            "glasses.b.up.audio",
            "glasses.b.up.photo",
            "glasses.a.down.display",  # acting as the overlay service
            "asr.final.a",
            "translation.final.a",
            "payments.intent.a",
            "payments.result.a",
            "commerce.order.a",
            "errors.asr.a",
            "dlq.asr.audio_frame",
            "audit.a",
            "$JS.API.STREAM.INFO.GLASSES_UP",
            "$JS.hub.API.STREAM.INFO.GLASSES_UP",
            "$JS.API.CONSUMER.CREATE.OBJ_photos",
            "$KV.devices.a",
            "$O.photos.C.b.upload1",
            "$O.photo_outbox.C.x",
            # Requests about another device's data (a device may ask only about its own).
            "glasses.b.rpc.vision.search_photos",
        )
        for subject in denied:
            await nc.publish(subject, b"x")
        await nc.flush()
        for subject in ("glasses.b.up.input", "payments.intent.a", "$JS.API.STREAM.INFO.GLASSES_UP", "$O.photos.C.b.upload1"):
            assert await errors.wait_for(f'{DENIED_PUBLISH} to "{subject}"'), (subject, errors.seen)
        assert await errors.wait_for(f'{DENIED_PUBLISH} to "glasses.b.rpc.vision.search_photos"'), errors.seen
        # One refusal per publish (under load the last ones may come late: wait for the count).
        await wait_for(lambda: sum(DENIED_PUBLISH in e for e in errors.seen) >= 1 + len(denied), 5, "every refusal")
        assert sum(DENIED_PUBLISH in e for e in errors.seen) == 1 + len(denied), errors.seen
        # No JetStream API: it cannot read streams (another device's photos, transcripts) at all.
        with pytest.raises((NoRespondersError, NatsTimeoutError)):
            await nc.jetstream().stream_info("OBJ_photos")

        # Denied subscriptions: another device's captions and photos, services' inboxes, everything.
        for subject in ("glasses.b.down.display", "asr.partial.b", "asr.final.*", "translation.partial.b", "$O.photos.>", "_INBOX.>", ">"):
            await nc.subscribe(subject)
        await nc.flush()
        assert await errors.wait_for(f'{DENIED_SUBSCRIBE} to "$O.photos.>"'), errors.seen
        assert sum(DENIED_SUBSCRIBE in e for e in errors.seen) == 7, errors.seen
    finally:
        await nc.close()
    await asyncio.sleep(0.2)
    assert not {"glasses.b.up.input", "payments.intent.a", "asr.final.a"} & set(seen)


async def test_a_device_writes_no_photo_meta_and_cannot_hide_or_replace_anothers_photo(
    secure_hub, admin, device_creds, run_service, vision_engines
):
    creds = {device: await device_creds(device) for device in ("a", "b")}
    settings = VisionSettings(
        nats_url=secure_hub.url,
        nats_credentials_file=secure_hub.creds("vision"),
        http_port=free_port(),
        http_host="127.0.0.1",
        log_level="WARNING",
    )
    await run_service(create_vision(settings, engines=vision_engines))
    js = admin.jetstream()
    photo = make_photo(41)
    async with GlassesAgent.connect("a", secure_hub.url, credentials_file=creds["a"]) as a:
        photo_id = await a.send_photo(photo)
    await wait_for(lambda: subject_count(js, "VISION", "photo.stored.a"), 15, "a's PhotoStored")
    name = f"a/{photo_id}"
    store = await js.object_store("photos")
    stored = await store.get_info(name)
    chunks = await subject_count(js, "OBJ_photos", objects.chunk_subject("photos", stored.nuid))

    nc, errors = await connect(secure_hub.url, creds["b"], inbox_prefix=auth.device_inbox_prefix("b"))
    try:
        # b writes chunks of its own, then tries to point a's photo at them (replace), to
        # roll its meta up into a delete marker (hide), and to write a meta of its own.
        ack = await nc.jetstream().publish("$O.photos.C.b.forged", b"forged", timeout=3)
        assert ack.stream == "OBJ_photos"
        rollup = {api.Header.ROLLUP: "sub"}
        forged = objects.object_meta("photos", name, nuid="b.forged", size=6, chunks=1, sha256=sha256(b"forged"), max_chunk_bytes=6)
        hidden = json.dumps({"name": name, "bucket": "photos", "nuid": stored.nuid, "deleted": True}).encode()
        for subject, meta in (
            (objects.meta_subject("photos", name), forged),
            (objects.meta_subject("photos", name), hidden),
            (objects.meta_subject("photos", "b/own"), forged),
        ):
            await nc.publish(subject, meta, headers=rollup)
        await nc.flush()
        meta_a = objects.meta_subject("photos", name)
        assert await errors.wait_for(f'{DENIED_PUBLISH} to "{meta_a}"'), errors.seen
        assert await errors.wait_for(f'{DENIED_PUBLISH} to "{objects.meta_subject("photos", "b/own")}"'), errors.seen
        assert sum(DENIED_PUBLISH in e for e in errors.seen) == 3, errors.seen

        # Nor through vision: a notice of b's naming a's upload is refused, and a's chunks are left alone.
        notice = PhotoCaptured(
            meta=new_meta("b", "glasses"),
            photo_id=photo_id,
            content_type="image/jpeg",
            size_bytes=len(photo),
            sha256=sha256(photo),
            upload_id=stored.nuid,
        )
        await nc.jetstream().publish("glasses.b.up.photo", notice.SerializeToString(), headers=event_headers(notice), timeout=3)
    finally:
        await nc.close()
    [error] = await wait_for(lambda: stream_messages(js, "ERRORS", "errors.vision.b"), 15, "b's notice refused")
    assert ErrorEvent.FromString(error.data).code == ErrorCode.ERROR_CODE_FORBIDDEN
    assert await subject_count(js, "VISION", "photo.stored.b") == 0

    # a's photo is as vision wrote it: same meta, same chunks, same bytes.
    assert (await store.get_info(name)).nuid == stored.nuid
    assert await subject_count(js, "OBJ_photos", objects.chunk_subject("photos", stored.nuid)) == chunks
    assert sha256((await store.get(name)).data) == sha256(photo)
    assert await subject_count(js, "OBJ_photos", "$O.photos.M.>") == 1, "no meta but vision's"


async def test_services_are_distinct_least_privilege_users(secure_hub, admin):
    await streams.ensure_stream(admin.jetstream(), streams.GLASSES_UP)
    overlay, errors = await connect(secure_hub.url, secure_hub.creds("overlay"), inbox_prefix=auth.service_inbox_prefix("overlay"))
    try:
        # What overlay does: draw on any device's HUD, read partial captions, use JetStream.
        await overlay.publish("glasses.a.down.display", b"caption")
        await overlay.subscribe("asr.partial.*")
        info = await overlay.jetstream().account_info()
        assert info is not None
        # Not what a device does, nor what other services do.
        for subject in ("glasses.a.up.input", "asr.final.a", "payments.intent.a", "errors.asr.a"):
            await overlay.publish(subject, b"x")
        await overlay.subscribe("glasses.*.up.audio")
        await overlay.subscribe("_INBOX.asr.>")
        await overlay.flush()
        assert await errors.wait_for(f'{DENIED_SUBSCRIBE} to "_INBOX.asr.>"'), errors.seen
        assert sum(DENIED_PUBLISH in e for e in errors.seen) == 4, errors.seen
        assert sum(DENIED_SUBSCRIBE in e for e in errors.seen) == 2, errors.seen
        # Streams cannot be deleted by a service.
        with pytest.raises((nats.errors.Error, NatsTimeoutError)):
            await overlay.jetstream().delete_stream("GLASSES_UP")
    finally:
        await overlay.close()
    assert (await admin.jetstream().stream_info("GLASSES_UP")) is not None


async def test_leaf_connections_carry_the_device_permissions_and_tls(secure_hub, admin, device_creds, secure_edge):
    creds_a = await device_creds("a")
    edge = secure_edge("a", creds_a)
    assert await edge.wait_leaf(10), edge.server.log_tail()
    [hub_leaf] = secure_hub.server.varz("leafz")["leafs"]
    assert hub_leaf["account"] == secure_hub.security.authority().account
    assert secure_hub.server.varz("varz")["leaf"]["tls_required"] is True

    seen: list[str] = []

    async def record(msg):
        seen.append(msg.subject)

    await admin.subscribe("glasses.>", cb=record)
    await admin.flush()
    local = await nats.connect(edge.url, inbox_prefix=auth.device_inbox_prefix("a"))
    try:
        displays = await local.subscribe("glasses.*.down.display")
        await local.flush()
        await asyncio.sleep(0.3)  # interest crosses the leaf
        await local.publish("glasses.a.up.audio", b"own")
        await local.publish("glasses.b.up.audio", b"forged")
        await local.publish("payments.intent.a", b"forged")
        await admin.publish("glasses.b.down.display", b"for b")
        await admin.publish("glasses.a.down.display", b"for a")
        assert (await displays.next_msg(timeout=3)).data == b"for a"
        with pytest.raises(NatsTimeoutError):
            await displays.next_msg(timeout=0.5)
        await _wait(lambda: f"glasses.a.up.audio.{partitions.partition_of('a')}" in seen, "a's audio through the leaf")
        assert not [s for s in seen if s.startswith("glasses.b.up")]
        # The hub's JetStream API is not reachable from the edge.
        with pytest.raises((NoRespondersError, NatsTimeoutError)):
            await local.request("$JS.hub.API.INFO", b"", timeout=1)
    finally:
        await local.close()


async def test_a_wrong_ca_is_refused_on_the_leaf_link(secure_hub, device_creds, secure_edge, tmp_path):
    creds_a = await device_creds("a")
    other = tls.create(tmp_path / "other-ca")
    edge = secure_edge("a", creds_a, ca_file=str(other.ca))
    assert not await edge.wait_leaf(3)
    assert "certificate" in edge.server.log_tail(80).lower()


async def _wait(predicate, what: str, timeout_s: float = 5.0) -> None:
    for _ in range(int(timeout_s / 0.05)):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")

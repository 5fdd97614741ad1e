"""Privacy mode, enforced on the hub (auth on, the real asr with Moonshine and
the real vision intake): while a's privacy mode is on, its audio is not
transcribed and its photos are not processed nor kept, while b's are; lifting
it resumes both; every camera/mic access and every drop is in a's audit
trail; the glasses show PRIVACY on their status line and take nothing."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest
from nats.js.errors import ObjectNotFoundError
from sightline.v1.asr_pb2 import Transcript
from sightline.v1.device_pb2 import AuditAction
from sightline.v1.display_pb2 import HudRegion
from sightline.v1.vision_pb2 import PhotoCaptured
from sightline_asr import testing
from sightline_asr.app import create_service as create_asr
from sightline_asr.settings import AsrSettings
from sightline_glasses.agent import GlassesAgent, PrivacyModeActive
from sightline_glasses.audio import AudioUplink
from sightline_glasses.photo_upload import Progress, put_chunks
from sightline_runtime import subjects
from sightline_runtime.audit import read_audit
from sightline_runtime.devices import DeviceRegistry
from sightline_runtime.events import event_headers, new_meta
from sightline_runtime.processes import free_port
from sightline_vision.app import create_service as create_vision
from sightline_vision.settings import VisionSettings

from tests.edge.helpers import make_photo, sha256


@pytest.fixture(scope="module")
def hello(tmp_path_factory) -> np.ndarray:
    testing.require("espeak-ng", "sox")
    folder = tmp_path_factory.mktemp("speech")
    return np.concatenate([testing.silence(0.3), testing.speech_pcm("Where is the train station?", folder, "hello"), testing.silence(1.0)])


async def test_privacy_mode_stops_mic_and_camera_processing_for_that_device_only(
    secure_hub,
    admin,
    device_creds,
    run_service,
    hello,
    vision_engines,
):
    creds = {device: await device_creds(device) for device in ("a", "b")}
    common = {"http_host": "127.0.0.1", "log_level": "WARNING"}
    await run_service(
        create_asr(AsrSettings(nats_url=secure_hub.url, nats_credentials_file=secure_hub.creds("asr"), http_port=free_port(), **common)), 90
    )
    await run_service(
        create_vision(
            VisionSettings(nats_url=secure_hub.url, nats_credentials_file=secure_hub.creds("vision"), http_port=free_port(), **common),
            engines=vision_engines,
        )
    )
    finals: list[Transcript] = []

    async def heard(msg) -> None:
        finals.append(Transcript.FromString(msg.data))

    await admin.subscribe("asr.final.*", cb=heard)
    js = admin.jetstream()
    registry = DeviceRegistry(js)
    a = await GlassesAgent.connect("a", secure_hub.url, credentials_file=creds["a"])
    b = await GlassesAgent.connect("b", secure_hub.url, credentials_file=creds["b"])
    try:
        await a.set_privacy(True)
        await _until(lambda: _privacy(registry, "a"), True, "a's privacy mode on the hub")
        # The glasses: PRIVACY on the status line, camera and microphone refuse.
        assert a.hud.regions[HudRegion.HUD_REGION_STATUS].status.privacy_mode
        with pytest.raises(PrivacyModeActive):
            await a.send_photo(make_photo(1))
        with pytest.raises(PrivacyModeActive):
            a.audio_uplink()

        # Glasses that ignore it anyway (old firmware, a bug): the hub still drops a's data.
        await asyncio.gather(_speak(a, hello), _speak(b, hello))
        photo_a, photo_b = make_photo(2), make_photo(3)
        upload_a, _ = await asyncio.gather(_upload(a, "pa1", photo_a), _upload(b, "pb1", photo_b))
        await _until(lambda: _stored_count(js, "b"), 1, "b's photo stored")
        await _until(lambda: [f.meta.device_id for f in finals], ["b"], "b's transcript", timeout_s=30)
        await asyncio.sleep(1.0)
        assert [f.meta.device_id for f in finals] == ["b"], "a's speech was not transcribed"
        assert await _stored_count(js, "a") == 0, "a's photo was not processed"
        store = await js.object_store("photos")
        with pytest.raises(ObjectNotFoundError):
            await store.get("a/pa1")  # and not kept: no object, and its chunks purged
        await _until(lambda: _chunk_count(js, upload_a), 0, "a's chunks purged")
        assert sha256((await store.get("b/pb1")).data) == sha256(photo_b)

        # Lifted: both resume.
        await a.set_privacy(False)
        await _until(lambda: _privacy(registry, "a"), False, "a's privacy mode off on the hub")
        await _speak(a, hello)
        await _upload(a, "pa2", photo_a)
        await _until(lambda: _stored_count(js, "a"), 1, "a's photo stored after privacy mode")
        await _until(lambda: sorted(f.meta.device_id for f in finals), ["a", "b"], "a's transcript after privacy mode", timeout_s=30)
        assert "train station" in testing.normalize(finals[-1].text)
    finally:
        await a.close()
        await b.close()

    trail = await _until_audit(js, "a", 5)
    actions = [AuditAction.Name(r.action).removeprefix("AUDIT_ACTION_") for r in trail]
    assert actions.count("PRIVACY_MODE_ON") == 1, actions
    assert actions.count("PRIVACY_MODE_OFF") == 1, actions
    assert {r.service for r in trail if r.action == AuditAction.AUDIT_ACTION_DATA_DROPPED_PRIVACY} == {"asr", "vision"}, actions
    assert [r.reference_id for r in trail if r.action == AuditAction.AUDIT_ACTION_PHOTO_STORED] == ["pa2"]
    assert sum(r.action == AuditAction.AUDIT_ACTION_MICROPHONE_PROCESSED for r in trail) == 1, actions
    assert actions.index("PRIVACY_MODE_OFF") < actions.index("MICROPHONE_PROCESSED")
    assert all(r.meta.device_id == "a" for r in trail)
    trail_b = await read_audit(js, "b")
    assert {AuditAction.Name(r.action) for r in trail_b} == {
        "AUDIT_ACTION_MICROPHONE_PROCESSED",
        "AUDIT_ACTION_PHOTO_TREATED",
        "AUDIT_ACTION_PHOTO_STORED",
        "AUDIT_ACTION_PHOTO_PROCESSED",
    }


async def _speak(agent: GlassesAgent, pcm: np.ndarray) -> None:
    """Straight onto the up-link, past the agent's own privacy check."""
    uplink = AudioUplink(agent.nc, agent.device_id)
    await uplink.send(pcm, end_of_stream=True, realtime=True, speed=2.0)


async def _upload(agent: GlassesAgent, photo_id: str, data: bytes) -> str:
    """A photo's chunks and its notice, past the agent's own privacy check; returns the upload id."""
    js = agent.nc.jetstream()

    async def keep(progress) -> None:
        return None

    progress = Progress.fresh(agent.device_id)
    await put_chunks(js, "photos", data, chunk_bytes=64 * 1024, progress=progress, save=keep)
    notice = PhotoCaptured(
        meta=new_meta(agent.device_id, "glasses"),
        photo_id=photo_id,
        content_type="image/jpeg",
        size_bytes=len(data),
        sha256=sha256(data),
        upload_id=progress.nuid,
    )
    await js.publish(subjects.up_photo(agent.device_id), notice.SerializeToString(), headers=event_headers(notice), stream="GLASSES_UP")
    return progress.nuid


async def _chunk_count(js, upload_id: str) -> int:
    info = await js.stream_info("OBJ_photos", subjects_filter=f"$O.photos.C.{upload_id}")
    return sum((info.state.subjects or {}).values())


async def _privacy(registry: DeviceRegistry, device: str) -> bool:
    return (await registry.get(device)).privacy.enabled


async def _stored_count(js, device: str) -> int:
    info = await js.stream_info("VISION", subjects_filter=f"photo.stored.{device}")
    return (info.state.subjects or {}).get(f"photo.stored.{device}", 0)


async def _until(probe, expected, what: str, *, timeout_s: float = 15.0):
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if asyncio.iscoroutine(value):
            value = await value
        if value == expected:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}: {value!r}")
        await asyncio.sleep(0.1)


async def _until_audit(js, device: str, count: int):
    for _ in range(100):
        trail = await read_audit(js, device)
        if len(trail) >= count:
            return trail
        await asyncio.sleep(0.1)
    return trail

import asyncio

import pytest
from nats.js.errors import NotFoundError
from sightline.v1.device_pb2 import DeviceStatus
from sightline_cli.stack import SERVICES
from sightline_runtime.devices import DeviceRegistry, is_active
from sightline_runtime.streams import DEVICES, GLASSES_UP, StreamSpec, ensure_bucket, ensure_streams
from sightline_runtime.surface import deployment_streams, load_surfaces

ALL_STREAMS = deployment_streams(load_surfaces(SERVICES))


async def test_devices_are_added_listed_revoked_and_reactivated(registry):
    assert await registry.list() == []
    added = await registry.add("g1", display_name="Lab pair", target_language="zh")
    assert added.hud.width_px == 640
    assert (await registry.get("g1")).default_target_language == "zh"
    await registry.add("g2")
    assert [r.device_id for r in await registry.list()] == ["g1", "g2"]
    revoked = await registry.revoke("g1")
    assert revoked.status == DeviceStatus.DEVICE_STATUS_REVOKED
    assert not is_active(await registry.get("g1"))
    again = await registry.add("g1")
    assert is_active(again)
    assert again.created_at == added.created_at, "re-activation keeps the original creation time"
    assert await registry.revoke("never-was") is None


async def test_a_running_mirror_follows_changes_made_elsewhere(nc, registry):
    mirror = DeviceRegistry(nc.jetstream())
    await mirror.start()
    try:
        assert await mirror.lookup("late") is None
        await registry.add("late")
        # A miss is remembered briefly, but the KV watch brings the new device in.
        async with asyncio.timeout(5):
            while not is_active(await mirror.lookup("late")):
                await asyncio.sleep(0.05)
        await registry.revoke("late")
        async with asyncio.timeout(5):
            while is_active(await mirror.lookup("late")):
                await asyncio.sleep(0.05)
    finally:
        await mirror.stop()


async def test_a_corrupt_registry_entry_is_ignored_not_fatal(nc, registry):
    kv = await ensure_bucket(nc.jetstream(), DEVICES)
    await kv.put("junk", b"\xff\xff not a record")
    await registry.add("fine")
    mirror = DeviceRegistry(nc.jetstream())
    await mirror.start()
    try:
        assert await mirror.lookup("junk") is None
        assert is_active(await mirror.lookup("fine"))
    finally:
        await mirror.stop()


async def test_streams_are_created_once_and_updated_in_place(nc):
    js = nc.jetstream()
    await ensure_streams(js, ALL_STREAMS)
    await ensure_streams(js, ALL_STREAMS)  # idempotent
    names = {s.config.name for s in await js.streams_info()}
    assert names >= {s.name for s in ALL_STREAMS}
    info = await js.stream_info(GLASSES_UP.name)
    assert info.config.duplicate_window == 120
    assert info.config.subjects == ["glasses.*.up.input", "glasses.*.up.photo"]
    changed = StreamSpec(name=GLASSES_UP.name, subjects=GLASSES_UP.subjects, description="changed", max_age_s=3600)
    await ensure_streams(js, [changed])
    assert (await js.stream_info(GLASSES_UP.name)).config.max_age == 3600


async def test_no_stream_captures_raw_audio_or_display_updates(nc):
    """Privacy and latest-wins by construction: audio frames and display
    updates are core NATS only, never persisted."""
    js = nc.jetstream()
    await ensure_streams(js, ALL_STREAMS)
    for subject in ("glasses.a.up.audio", "glasses.a.down.display", "asr.partial.a"):
        with pytest.raises(NotFoundError):
            await js.find_stream_name_by_subject(subject)


async def test_js_publish_dedups_by_event_id(nc):
    js = nc.jetstream()
    await ensure_streams(js, [GLASSES_UP])
    first = await js.publish("glasses.a.up.input", b"x", headers={"Nats-Msg-Id": "evt-1"})
    again = await js.publish("glasses.a.up.input", b"x", headers={"Nats-Msg-Id": "evt-1"})
    assert again.duplicate
    assert again.seq == first.seq

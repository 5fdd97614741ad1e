"""Commands on the down-link (glasses.<device>.down.command, DeviceCommand)
against real nats-servers: the glasses act on them through their edge node
and as a direct client alike (TakePhoto uploads a photo from the camera
source exactly as the capture button does, ConversationTranslation changes
the languages of the next audio frames), a repeat is acted on once, forged
and malformed commands are logged, counted and ignored, and with
authorisation on a device never receives another device's commands."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import numpy as np
import pytest
from nats.errors import TimeoutError as NatsTimeoutError
from sightline.v1.audio_pb2 import AudioFrame
from sightline.v1.device_pb2 import ConversationTranslation, DeviceCommand, TakePhoto
from sightline.v1.vision_pb2 import PhotoCaptured
from sightline_glasses.agent import GlassesAgent
from sightline_glasses.camera import Camera
from sightline_glasses.settings import EdgeSettings
from sightline_runtime import auth, objects, streams, subjects
from sightline_runtime.events import event_headers, new_meta

from tests.conftest import VENV_BIN
from tests.edge.helpers import make_photo, sha256, stream_messages, wait_for
from tests.security.conftest import admin, connect, device_creds, secure_edge, secure_hub  # noqa: F401

DENIED_SUBSCRIBE = "permissions violation for subscription"
SIGHTLINE = str(VENV_BIN / "sightline")
LIMITS = EdgeSettings()


def take_photo(device: str, purpose: str = "what_is_this", **meta) -> DeviceCommand:
    return DeviceCommand(meta=new_meta(device, "assistant", **meta), take_photo=TakePhoto(purpose=purpose))


def translation(device: str, *, enabled: bool, source: str = "", target: str = "") -> DeviceCommand:
    change = ConversationTranslation(enabled=enabled, source_language=source, target_language=target)
    return DeviceCommand(meta=new_meta(device, "assistant"), conversation_translation=change)


async def send(nc, device: str, command: DeviceCommand | bytes) -> None:
    """Publish on the device's command subject, as the assistant does."""
    if isinstance(command, bytes):
        await nc.publish(subjects.down_command(device), command)
    else:
        await nc.publish(subjects.down_command(device), command.SerializeToString(), headers=event_headers(command))
    await nc.flush()


def camera_folder(tmp_path, count: int = 2) -> tuple[Camera, list[bytes]]:
    folder = tmp_path / "camera"
    folder.mkdir()
    images = [make_photo(100 + i) for i in range(count)]
    for i, data in enumerate(images):
        (folder / f"shot-{i}.jpg").write_bytes(data)
    (folder / "notes.txt").write_text("not an image: the camera skips it")
    return Camera(folder, max_bytes=LIMITS.photo_max_bytes, max_pixels=LIMITS.photo_max_pixels), images


async def leaf_interest(hub, edge_name: str, subject: str) -> None:
    """Wait until the edge's subscription reached the hub over the leaf (published earlier, a command is lost)."""

    def has() -> bool:
        leafs = {leaf["name"]: leaf for leaf in hub.varz("leafz?subs=1")["leafs"]}
        return subject in (leafs.get(edge_name, {}).get("subscriptions_list") or [])

    await wait_for(lambda: asyncio.to_thread(has), 10, f"{subject} interest from {edge_name} at the hub")


@contextlib.asynccontextmanager
async def glasses(mode: str, device: str, hub, edge_factory, **options):
    if mode == "edge":
        edge = edge_factory(device, hub.leafnode_url)
        assert await edge.wait_leaf(10), edge.server.log_tail()
        async with GlassesAgent.on_edge(edge, **options) as agent:
            await leaf_interest(hub, f"edge-{device}", subjects.down_command(device))
            yield agent
    else:
        async with GlassesAgent.connect(device, hub.url, **options) as agent:
            yield agent


async def photo_notices(js, device: str, count: int) -> list[PhotoCaptured] | None:
    msgs = await stream_messages(js, "GLASSES_UP", subjects.up_photo(device))
    return [PhotoCaptured.FromString(m.data) for m in msgs] if len(msgs) >= count else None


@pytest.mark.parametrize("mode", ["edge", "direct"])
async def test_take_photo_uploads_the_camera_sources_next_image_once_per_command(mode, hub, hub_nc, provision, edge_factory, tmp_path):
    await provision("a")
    js = hub_nc.jetstream()
    await streams.ensure_object_store(js, streams.PHOTOS)
    camera, images = camera_folder(tmp_path)
    async with glasses(mode, "a", hub, edge_factory, camera=camera) as agent:
        uploaded: list[str] = []
        agent.upload_listeners.append(uploaded.append)
        first, second = take_photo("a"), take_photo("a", purpose="translate")
        await send(hub_nc, "a", first)
        await send(hub_nc, "a", first)  # the sender's retry: the same event id
        await send(hub_nc, "a", second)
        notices = await wait_for(lambda: photo_notices(js, "a", 2), 20, "two photo notices in GLASSES_UP")
        await wait_for(lambda: len(uploaded) == 2, 10, "both uploads announced on the glasses")
        assert agent.commands.counts["done"] == 2
        assert agent.commands.counts["duplicate"] == 1

        # Each notice answers its command and names chunks that are the camera's image, byte for byte, in order.
        assert [n.meta.causation_id for n in notices] == [first.meta.event_id, second.meta.event_id]
        for notice, image in zip(notices, images, strict=True):
            assert (notice.content_type, notice.size_bytes, notice.sha256) == ("image/jpeg", len(image), sha256(image))
            assert notice.upload_id.startswith("a.")
            chunks = await objects.read_chunks(js, "photos", notice.upload_id, max_bytes=LIMITS.photo_max_bytes)
            assert chunks.data == image
        assert sorted(uploaded) == sorted(n.photo_id for n in notices)

        # The folder cycles: a third shot is the first image again.
        await send(hub_nc, "a", take_photo("a"))
        third = (await wait_for(lambda: photo_notices(js, "a", 3), 20, "a third photo notice"))[2]
        assert third.sha256 == sha256(images[0])
    await asyncio.sleep(0.3)
    assert len(await photo_notices(js, "a", 0)) == 3, "the repeated command took no photo"


async def test_without_a_camera_or_in_privacy_mode_a_take_photo_is_refused_with_a_log_line(hub, hub_nc, provision, caplog, tmp_path):
    await provision("a")
    js = hub_nc.jetstream()
    await streams.ensure_object_store(js, streams.PHOTOS)
    caplog.set_level(logging.INFO, logger="sightline_glasses")
    async with GlassesAgent.connect("a", hub.url) as agent:
        outcomes: list[tuple[str, str]] = []
        agent.command_listeners.append(lambda command, outcome, detail: outcomes.append((outcome, detail)))
        command = take_photo("a")
        await send(hub_nc, "a", command)
        await wait_for(lambda: agent.commands.counts["no_camera"] == 1, 5, "the refusal counted")
        [line] = [r.getMessage() for r in caplog.records if "TakePhoto" in r.getMessage()]
        assert command.meta.event_id in line
        assert "no camera source" in line
        assert outcomes == [("no_camera", outcomes[0][1])]
        assert "--camera" in outcomes[0][1]

    (tmp_path / "camera.jpg").write_bytes(make_photo(7))
    camera = Camera(tmp_path / "camera.jpg", max_bytes=LIMITS.photo_max_bytes, max_pixels=LIMITS.photo_max_pixels)
    async with GlassesAgent.connect("a", hub.url, camera=camera) as agent:
        await agent.set_privacy(True)
        await send(hub_nc, "a", take_photo("a"))
        await wait_for(lambda: agent.commands.counts["privacy_mode"] == 1, 5, "the refusal counted")
        assert any("privacy mode is on" in r.getMessage() for r in caplog.records)
    assert await photo_notices(js, "a", 1) is None, "no photo was taken"


async def audio_frames(hub_nc, device: str) -> tuple[list[AudioFrame], object]:
    frames: list[AudioFrame] = []

    async def record(msg):
        frames.append(AudioFrame.FromString(msg.data))

    sub = await hub_nc.subscribe(subjects.up_audio(device), cb=record)
    await hub_nc.flush()
    return frames, sub


@pytest.mark.parametrize("mode", ["edge", "direct"])
async def test_conversation_translation_sets_and_clears_the_languages_of_the_next_audio_frames(mode, hub, hub_nc, provision, edge_factory):
    await provision("a")
    frames, _ = await audio_frames(hub_nc, "a")
    pcm = np.zeros(1600, dtype=np.int16)  # 100 ms: five 20 ms frames
    async with glasses(mode, "a", hub, edge_factory) as agent:
        mic = agent.audio_uplink()  # follows the conversation
        fixed = agent.audio_uplink(source_language="en", target_language="es")  # its own languages
        await mic.send(pcm, realtime=False)
        await wait_for(lambda: len(frames) == 5, 5, "the first frames at the hub")
        assert {(f.source_language, f.target_language) for f in frames} == {("en", "")}
        before = frames[0].stream_id

        await send(hub_nc, "a", translation("a", enabled=True, source="zh", target="en"))
        await wait_for(lambda: agent.commands.counts["done"] == 1, 5, "translation turned on")
        await mic.send(pcm, realtime=False)
        await fixed.send(pcm, realtime=False)
        await wait_for(lambda: len(frames) == 15, 5, "the next frames at the hub")
        on = [f for f in frames[5:] if f.stream_id != fixed.stream_id]
        assert {(f.source_language, f.target_language) for f in on} == {("zh", "en")}
        # A new stream, so the asr (which reads a stream's languages from its first frame) translates at once.
        assert {f.stream_id for f in on} == {mic.stream_id} != {before}
        assert {(f.source_language, f.target_language) for f in frames[5:] if f.stream_id == fixed.stream_id} == {("en", "es")}
        assert (agent.audio_uplink().source_language, agent.audio_uplink().target_language) == ("zh", "en")

        await send(hub_nc, "a", translation("a", enabled=False))
        await wait_for(lambda: agent.commands.counts["done"] == 2, 5, "translation turned off")
        await mic.send(pcm, realtime=False, end_of_stream=True)
        await wait_for(lambda: len(frames) == 20, 5, "the last frames at the hub")
        assert {(f.source_language, f.target_language) for f in frames[15:]} == {("en", "")}, "back to how the glasses started"
        assert frames[-1].end_of_stream


def malformed(device: str) -> list[tuple[str, bytes, str]]:
    """(name, payload, counted reason) of what a forger or a broken sender could put on the subject."""
    other = take_photo("b")  # meta names b, sent on a's subject
    no_command = DeviceCommand(meta=new_meta(device, "assistant"))
    # Field 99 in the oneof's place: what a newer contract's command looks like here.
    unknown = no_command.SerializeToString() + b"\x9a\x06\x02\x08\x01"
    stale = take_photo(device)
    stale.meta.created_at.FromSeconds(stale.meta.created_at.seconds - 3600)
    no_id = take_photo(device)
    no_id.meta.event_id = ""
    return [
        ("garbage", b"\xff\xfe not protobuf \x00\x01", "undecodable"),
        ("oversized", take_photo(device, purpose="x" * LIMITS.command_max_bytes).SerializeToString(), "oversized"),
        ("another device's command", other.SerializeToString(), "wrong_device"),
        ("no command", no_command.SerializeToString(), "unknown_command"),
        ("unknown command", unknown, "unknown_command"),
        ("an hour old", stale.SerializeToString(), "stale"),
        ("no event id", no_id.SerializeToString(), "invalid"),
        ("translation into nothing", translation(device, enabled=True, source="en").SerializeToString(), "invalid"),
        ("not a language", translation(device, enabled=True, target="<script>").SerializeToString(), "invalid"),
    ]


async def test_forged_and_malformed_commands_are_logged_counted_and_ignored(hub, hub_nc, provision, caplog, tmp_path):
    await provision("a")
    js = hub_nc.jetstream()
    await streams.ensure_object_store(js, streams.PHOTOS)
    caplog.set_level(logging.INFO, logger="sightline_glasses")
    camera, _ = camera_folder(tmp_path, count=1)
    cases = malformed("a")
    async with GlassesAgent.connect("a", hub.url, camera=camera) as agent:
        for _, payload, _ in cases:
            await send(hub_nc, "a", payload)
        expected: dict[str, int] = {}
        for _, _, reason in cases:
            expected[reason] = expected.get(reason, 0) + 1
        await wait_for(lambda: dict(agent.commands.counts) == expected, 5, f"every refusal counted as {expected}")
        refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
        assert len(refusals) == len(cases), refusals
        assert all("glasses.a.down.command" in line for line in refusals), "each line names the subject"
        assert any("meta names device 'b'" in line for line in refusals)
        assert any(f"over the {LIMITS.command_max_bytes}-byte command limit" in line for line in refusals)
        assert agent.conversation.current.target == "", "no refused translation took effect"

        # The down-link survived all of it: a genuine command is still acted on.
        await send(hub_nc, "a", take_photo("a"))
        await wait_for(lambda: agent.commands.counts["done"] == 1, 10, "the genuine command done")
    assert len(await wait_for(lambda: photo_notices(js, "a", 1), 10, "its photo")) == 1


async def test_with_auth_on_a_device_gets_only_its_own_commands_direct_and_over_the_leaf(
    secure_hub,  # noqa: F811
    admin,  # noqa: F811
    device_creds,  # noqa: F811
    secure_edge,  # noqa: F811
):
    creds_a = await device_creds("a")
    await device_creds("b")
    async with GlassesAgent.connect("a", secure_hub.url, credentials_file=creds_a) as direct:
        # Its own commands reach it (the device's permissions allow its command subject)...
        await send(admin, "a", translation("a", enabled=True, source="en", target="zh"))
        await wait_for(lambda: direct.commands.counts["done"] == 1, 5, "a's own command")
        assert direct.conversation.current.target == "zh"
        # ...another device's never do, even ones naming a in their meta.
        await send(admin, "b", translation("a", enabled=True, target="es"))
        await send(admin, "b", translation("b", enabled=True, target="es"))
        await asyncio.sleep(0.5)
        assert sum(direct.commands.counts.values()) == 1
        assert direct.conversation.current.target == "zh"

    # A device's connection may not even subscribe to another device's commands.
    nc, errors = await connect(secure_hub.url, creds_a, inbox_prefix=auth.device_inbox_prefix("a"))
    try:
        await nc.subscribe(subjects.down_command("b"))
        await nc.subscribe(subjects.DOWN_COMMAND_ALL)
        await nc.flush()
        assert await errors.wait_for(f'{DENIED_SUBSCRIBE} to "{subjects.down_command("b")}"'), errors.seen
        assert await errors.wait_for(f'{DENIED_SUBSCRIBE} to "{subjects.DOWN_COMMAND_ALL}"'), errors.seen
    finally:
        await nc.close()

    # Over the leaf: the edge carries a's commands down and never b's, whoever asks on the edge.
    edge = secure_edge("a", creds_a)
    assert await edge.wait_leaf(10), edge.server.log_tail()
    async with GlassesAgent.on_edge(edge) as glasses_a:
        await leaf_interest(secure_hub.server, "edge-a", subjects.down_command("a"))
        local, _ = await connect(edge.url, inbox_prefix=auth.device_inbox_prefix("a"))
        try:
            everything = await local.subscribe(subjects.DOWN_COMMAND_ALL)
            await local.flush()
            await asyncio.sleep(0.3)  # interest crosses the leaf
            await send(admin, "b", translation("b", enabled=True, target="es"))
            await send(admin, "a", translation("a", enabled=True, source="en", target="es"))
            await wait_for(lambda: glasses_a.commands.counts["done"] == 1, 5, "a's command through the leaf")
            assert glasses_a.conversation.current.target == "es"
            assert (await everything.next_msg(timeout=3)).subject == subjects.down_command("a")
            with pytest.raises(NatsTimeoutError):
                await everything.next_msg(timeout=0.5)
        finally:
            await local.close()


async def test_the_simulator_takes_a_commanded_photo_with_its_camera_and_refuses_a_bad_camera(hub, hub_nc, provision, tmp_path):
    await provision("sim")
    js = hub_nc.jetstream()
    await streams.ensure_object_store(js, streams.PHOTOS)
    photo = tmp_path / "view.jpg"
    photo.write_bytes(make_photo(55))
    common = ("glasses", "--device", "sim", "--server", hub.url, "--leaf-url", hub.leafnode_url, "--state-dir", str(tmp_path / "state"))

    bad = await asyncio.create_subprocess_exec(
        SIGHTLINE, *common, "--camera", str(tmp_path / "nowhere"), stderr=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
    )
    _, bad_err = await asyncio.wait_for(bad.communicate(), 60)
    assert bad.returncode == 2
    assert "no such file or folder" in " ".join(bad_err.decode().split())  # rich wraps long lines

    run = await asyncio.create_subprocess_exec(
        SIGHTLINE,
        *common,
        "--camera",
        str(photo),
        "--no-hud",
        "--idle-timeout",
        "8",
        stderr=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        await leaf_interest(hub, "edge-sim", subjects.down_command("sim"))
        command = take_photo("sim")
        await send(hub_nc, "sim", command)
        [notice] = await wait_for(lambda: photo_notices(js, "sim", 1), 20, "the commanded photo's notice")
        assert (notice.sha256, notice.meta.causation_id) == (sha256(photo.read_bytes()), command.meta.event_id)
    finally:
        _, err = await asyncio.wait_for(run.communicate(), 60)
    assert run.returncode == 0, err.decode()
    assert "command take_photo from assistant: done" in " ".join(err.decode().split())

"""The hub goes away for 60 s; meanwhile the glasses (the real `sightline
glasses` process and its own nats-server) are killed with SIGKILL and
started again on the same store. Every photo and command reaches the hub
exactly once when it is back."""

import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path

import nats
from sightline.v1.input_pb2 import DeviceInput
from sightline.v1.vision_pb2 import PhotoCaptured, PhotoStored
from sightline_overlay.app import create_service as create_overlay
from sightline_overlay.settings import OverlaySettings
from sightline_runtime.processes import free_port

from tests.edge.helpers import duplicates, make_photo, sha256, stream_messages, wait_for

SIGHTLINE = str(Path(sys.executable).parent / "sightline")
OUTAGE_S = 60.0


async def glasses(state: Path, hub, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        SIGHTLINE,
        "glasses",
        "--device",
        "k",
        "--server",
        hub.url,
        "--leaf-url",
        hub.leafnode_url,
        "--state-dir",
        str(state),
        "--no-hud",
        "--jsonl",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def edge_holds(state: Path) -> tuple[int, int]:
    """(inputs, photos) waiting in the running edge's store, read from the edge itself."""
    config = json.loads((state / "edge" / "k" / "nats-server.conf").read_text())
    # The config may still name the killed server's port: fail fast, never retry.
    nc = await nats.connect(f"nats://127.0.0.1:{config['port']}", connect_timeout=1, allow_reconnect=False)
    try:
        js = nc.jetstream()
        inputs = (await js.stream_info("UPLINK_k")).state.messages
        photos = len((await js.stream_info("OBJ_photo_outbox", subjects_filter="$O.photo_outbox.M.>")).state.subjects or {})
        return inputs, photos
    finally:
        await nc.close()


async def holds(state: Path, expected: tuple[int, int]) -> bool:
    try:
        async with asyncio.timeout(5):
            return await edge_holds(state) == expected
    except (OSError, nats.errors.Error, json.JSONDecodeError, TimeoutError):
        return False


def kill(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)


async def test_glasses_killed_and_restarted_during_a_hub_outage(hub, hub_nc, provision, vision, view, run_service, tmp_path):
    overlay = OverlaySettings(nats_url=hub.url, http_port=free_port(), http_host="127.0.0.1", log_level="WARNING")
    await run_service(create_overlay(overlay))
    await provision("k")
    state = tmp_path / "state"
    files = []
    for i in range(20):
        path = tmp_path / f"photo{i}.{'png' if i % 2 else 'jpg'}"
        path.write_bytes(make_photo(200 + i, kind="png" if i % 2 else "jpeg"))
        files.append(path)
    texts = [f"command {i}" for i in range(10)]

    hub.stop()
    down_at = time.monotonic()
    # It would listen for 10 minutes: it is killed long before.
    photos = [a for f in files for a in ("--photo", str(f))]
    first = await glasses(state, hub, "--idle-timeout", "600", *photos, *[a for t in texts[:5] for a in ("--text", t)])
    await wait_for(lambda: holds(state, (5, 20)), 60, "the first glasses process holding 20 photos and 5 commands")

    # Crash the glasses outright: their nats-server and the agent, no clean shutdown.
    kill(int((state / "edge" / "k" / "nats-server.pid").read_text()))
    first.kill()
    await first.wait()

    second = await glasses(state, hub, "--idle-timeout", "3", "--drain-timeout", "150", *[a for t in texts[5:] for a in ("--text", t)])
    await wait_for(lambda: holds(state, (10, 20)), 60, "the restarted glasses holding everything, plus 5 new commands")

    await asyncio.sleep(max(0.0, down_at + OUTAGE_S - time.monotonic()))
    hub.start()
    stdout, stderr = await asyncio.wait_for(second.communicate(), 180)
    assert second.returncode == 0, stderr.decode()
    panels = [json.loads(line) for line in stdout.decode().splitlines() if '"HUD_REGION_PANEL"' in line]
    assert panels, "the hub answered the commands once it was back"

    js = hub_nc.jetstream()
    inputs = await stream_messages(js, "GLASSES_UP", "glasses.k.up.input")
    assert not duplicates([m.headers["Nats-Msg-Id"] for m in inputs])
    assert sorted(DeviceInput.FromString(m.data).text.text for m in inputs) == sorted(texts)

    notices = [PhotoCaptured.FromString(m.data) for m in await stream_messages(js, "GLASSES_UP", "glasses.k.up.photo")]
    assert len(notices) == 20
    assert sorted(n.sha256 for n in notices) == sorted(sha256(f.read_bytes()) for f in files)

    async def all_stored():
        msgs = await stream_messages(js, "VISION", "photo.stored.k")
        return msgs if len(msgs) >= 20 else None

    # The objects exist once vision has verified the chunks and written them.
    stored = [PhotoStored.FromString(m.data) for m in await wait_for(all_stored, 30, "20 PhotoStored")]
    assert sorted(s.photo_id for s in stored) == sorted(n.photo_id for n in notices)
    store = await js.object_store("photos")
    for notice in notices:
        assert sha256((await store.get(f"k/{notice.photo_id}")).data) == notice.sha256
    await wait_for(lambda: len(view.event_ids) >= 10, 20, "the hub consumer seeing the 10 commands")
    assert sorted(view.event_ids) == sorted(m.headers["Nats-Msg-Id"] for m in inputs)

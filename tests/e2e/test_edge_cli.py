"""`sightline glasses` as an edge node, as a user runs it against `sightline up`:
text round trip through the glasses' own leaf server, photos end to end,
bad photo files refused before anything starts, and --direct still there."""

import asyncio
import json
import os
import subprocess
from pathlib import Path

import nats
import pytest
from sightline.v1.vision_pb2 import PhotoStored

from tests.conftest import VENV_BIN
from tests.e2e.test_cli_stack import _all_ready, _wait_for
from tests.edge.helpers import make_photo, png_bomb, sha256, stream_messages

SIGHTLINE = str(VENV_BIN / "sightline")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """One local stack (overlay + vision) for the whole module."""
    home = tmp_path_factory.mktemp("edge-cli")
    state = home / ".sightline"
    log = (home / "up.log").open("w")
    up = subprocess.Popen(
        [SIGHTLINE, "up", "--state-dir", str(state), "--service", "overlay", "--service", "vision"],
        cwd=home,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        info = _wait_for(lambda: _all_ready(state), 120, "overlay and vision ready")
    except AssertionError:
        up.kill()
        raise AssertionError((home / "up.log").read_text()) from None
    yield state, info
    up.terminate()
    up.wait(timeout=60)


def glasses(state: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 90) -> subprocess.CompletedProcess:
    return subprocess.run(
        [SIGHTLINE, "glasses", "--state-dir", str(state), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=state.parent,
        env=os.environ | (env or {}),
    )


def hub(info: dict, action):
    async def run():
        nc = await nats.connect(info["nats_url"], user_credentials=info["admin_credentials"])
        try:
            return await action(nc.jetstream())
        finally:
            await nc.close()

    return asyncio.run(run())


def test_text_round_trip_goes_through_the_glasses_own_leaf_server(stack):
    state, info = stack
    assert info["leafnode_url"].startswith("nats-leaf://127.0.0.1:")
    result = glasses(state, "--device", "a", "--text", "hello", "--jsonl", "--idle-timeout", "3")
    assert result.returncode == 0, result.stderr
    updates = [json.loads(line) for line in result.stdout.splitlines()]
    panels = [u for u in updates if u["region"] == "HUD_REGION_PANEL"]
    assert [p["panel"]["text"]["lines"] for p in panels] == [["hello"]]
    assert {u["region"] for u in updates} <= {"HUD_REGION_PANEL", "HUD_REGION_STATUS"}
    assert (state / "edge" / "a" / "jetstream").is_dir(), "the edge keeps its store under the state dir"

    [message] = hub(info, lambda js: stream_messages(js, "GLASSES_UP", "glasses.a.up.input"))
    assert message.headers["Nats-Stream-Source"].startswith("UPLINK_a:"), "sourced from the edge, not published live"

    again = glasses(state, "--device", "a", "--text", "again", "--jsonl", "--idle-timeout", "3")
    assert again.returncode == 0, again.stderr
    assert ["again"] in [json.loads(line).get("panel", {}).get("text", {}).get("lines") for line in again.stdout.splitlines()]


def test_photos_are_uploaded_verified_and_announced(stack, tmp_path):
    state, info = stack
    jpeg, png = tmp_path / "menu.jpg", tmp_path / "sign.png"
    jpeg.write_bytes(make_photo(31))
    png.write_bytes(make_photo(32, kind="png", size=(400, 300)))
    result = glasses(state, "--device", "p", "--photo", str(jpeg), "--photo", str(png), "--jsonl", "--idle-timeout", "2")
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("uploaded to the hub") == 2, result.stderr

    async def stored(js):
        for _ in range(100):
            msgs = await stream_messages(js, "VISION", "photo.stored.p")
            if len(msgs) >= 2:
                break
            await asyncio.sleep(0.1)
        events = [PhotoStored.FromString(m.data) for m in msgs]
        store = await js.object_store("photos")
        return events, {e.object_name: sha256((await store.get(e.object_name)).data) for e in events}

    events, digests = hub(info, stored)
    assert sorted((e.content_type, e.width, e.height) for e in events) == [("image/jpeg", 320, 240), ("image/png", 400, 300)]
    assert all(name.startswith("p/") for name in digests), "photos live in the device's own namespace"
    assert sorted(digests.values()) == sorted([sha256(jpeg.read_bytes()), sha256(png.read_bytes())])


def test_bad_photo_files_exit_2_before_anything_starts(stack, tmp_path):
    state, _ = stack
    files = {
        "corrupt.jpg": make_photo(33)[:1500],
        "bomb.png": png_bomb(),
        "notes.jpg": b"not a photo at all\n",
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    expected = {"corrupt.jpg": "not a valid JPEG", "bomb.png": "decompression bomb", "notes.jpg": "not a JPEG or PNG"}
    for name, message in expected.items():
        result = glasses(state, "--device", "bad", "--photo", str(tmp_path / name), "--idle-timeout", "1")
        assert result.returncode == 2, (name, result.stderr)
        assert message in _unwrapped(result.stderr), (name, result.stderr)
        assert "Traceback" not in result.stderr
    big = tmp_path / "big.jpg"
    big.write_bytes(make_photo(34, size=(800, 600)))
    result = glasses(state, "--device", "bad", "--photo", str(big), env={"SIGHTLINE_PHOTO_MAX_BYTES": "20000"})
    assert result.returncode == 2
    assert "over the 20000-byte photo limit" in _unwrapped(result.stderr)
    assert not (state / "edge" / "bad").exists(), "a refused photo starts no edge"


def test_direct_mode_still_talks_to_the_hub_itself(stack):
    state, _ = stack
    result = glasses(state, "--device", "a", "--direct", "--text", "direct", "--jsonl", "--idle-timeout", "3")
    assert result.returncode == 0, result.stderr
    [line] = result.stdout.splitlines()
    assert json.loads(line)["panel"]["text"]["lines"] == ["direct"]


def _unwrapped(text: str) -> str:
    # The console wraps at word boundaries, where a line break stands for a space
    # (a longer tmp path moves the breaks into the message).
    return " ".join(text.split())

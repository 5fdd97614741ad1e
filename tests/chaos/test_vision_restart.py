"""Issue 9: vision SIGKILLed while ten photos arrive; once it is back every
photo is stored and analysed exactly once: ten PhotoStored, ten
VisionResult, one library entry each, no duplicates in the stream."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections import Counter

import httpx
import pytest
from nats.js.api import ConsumerConfig, DeliverPolicy
from sightline.v1.vision_pb2 import PhotoStored, SearchPhotosRequest, SearchPhotosResponse, VisionResult
from sightline_glasses.agent import GlassesAgent
from sightline_runtime import subjects
from sightline_runtime.devices import DeviceRegistry
from sightline_runtime.processes import free_port

from tests.edge.helpers import make_photo

PHOTOS = 10


def _start_vision(url: str, port: int, tmp_path) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "SIGHTLINE_NATS_URL": url,
        "SIGHTLINE_HTTP_PORT": str(port),
        "SIGHTLINE_HTTP_HOST": "127.0.0.1",
        "SIGHTLINE_INSTANCE": "vision-crash-test",
        "SIGHTLINE_LIBRARY_DB_URL": f"sqlite+aiosqlite:///{tmp_path / 'photos.db'}",
    }
    with open(tmp_path / "vision.log", "ab") as log:
        return subprocess.Popen([sys.executable, "-m", "sightline_vision"], env=env, stdout=log, stderr=subprocess.STDOUT)


async def _wait_ready(port: int, process: subprocess.Popen[bytes], log, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            assert process.poll() is None, f"vision exited during start-up:\n{log.read_text()[-3000:]}"
            try:
                if (await client.get(f"http://127.0.0.1:{port}/readyz", timeout=1)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError(f"vision did not become ready:\n{log.read_text()[-3000:]}")


async def _all(js, subject: str, message_type, *, count: int, timeout_s: float):
    """Every message on `subject` in the VISION stream, waiting until `count` are there."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        info = await js.stream_info("VISION", subjects_filter=subject)
        if sum((info.state.subjects or {}).values()) >= count:
            break
        await asyncio.sleep(0.2)
    sub = await js.subscribe(subject, stream="VISION", config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL), ordered_consumer=True)
    got = []
    try:
        while True:
            try:
                got.append(message_type.FromString((await sub.next_msg(timeout=1.0)).data))
            except TimeoutError:
                return got
    finally:
        await sub.unsubscribe()


@pytest.mark.slow
async def test_vision_killed_while_ten_photos_arrive_analyses_each_exactly_once(hub, hub_nc, tmp_path):
    nc = hub_nc
    await DeviceRegistry(nc.jetstream()).add("cam")
    port = free_port()
    first = _start_vision(hub.url, port, tmp_path)
    second = None
    try:
        await _wait_ready(port, first, tmp_path / "vision.log")
        js = nc.jetstream()
        async with GlassesAgent.connect("cam", hub.url) as glasses:
            sent = []
            for i in range(PHOTOS):
                sent.append(await glasses.send_photo(make_photo(900 + i, size=(640, 480))))
                if i == 3:
                    first.kill()  # SIGKILL mid-stream: some notices taken, none finished
                    first.wait()
        second = _start_vision(hub.url, port, tmp_path)
        await _wait_ready(port, second, tmp_path / "vision.log")

        stored = await _all(js, "photo.stored.cam", PhotoStored, count=PHOTOS, timeout_s=90)
        results = await _all(js, "vision.result.cam", VisionResult, count=PHOTOS, timeout_s=90)
        assert sorted(s.photo_id for s in stored) == sorted(sent)
        assert Counter(r.photo_id for r in results) == Counter(sent), "each photo analysed into exactly one result"
        assert len({r.meta.event_id for r in results}) == PHOTOS

        # And each is in the library once.
        reply = await nc.request(
            subjects.device_request("cam", "vision", "search_photos"), SearchPhotosRequest(limit=50).SerializeToString(), timeout=10
        )
        library = SearchPhotosResponse.FromString(reply.data)
        assert library.match_count == PHOTOS
        assert sorted(p.photo_id for p in library.photos) == sorted(sent)
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(timeout=30)

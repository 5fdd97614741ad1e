"""Scaling out and crashing: frames of one device always reach the same asr
replica (NATS deterministic partitioning, configured from the runtime's
partitions module), and a killed asr process does not wedge a device."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

import httpx
import nats
import pytest
from sightline_asr import testing
from sightline_asr.app import create_service
from sightline_glasses.agent import GlassesAgent
from sightline_runtime import partitions
from sightline_runtime.processes import free_port

from tests.speech.conftest import asr_settings, metric, running, transcripts, with_gaps

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_the_server_maps_each_device_to_the_partition_the_runtime_computes(hub):
    client = await nats.connect(hub.url)
    seen: list[str] = []

    async def record(msg) -> None:
        seen.append(msg.subject)

    await client.subscribe("glasses.*.up.audio.*", cb=record)
    await client.subscribe("glasses.*.up.audio", cb=record)
    await client.flush()
    devices = [f"glasses-{i:03d}" for i in range(64)]
    for device in devices:
        await client.publish(f"glasses.{device}.up.audio", b"x")
    await client.flush()
    await asyncio.sleep(0.3)
    await client.drain()
    assert seen == [f"glasses.{d}.up.audio.{partitions.partition_of(d)}" for d in devices]
    assert len({partitions.partition_of(d) for d in devices}) == partitions.AUDIO_PARTITIONS, "64 devices spread over every partition"


def _devices_on(replica: int, replicas: int, count: int) -> list[str]:
    owned = set(partitions.owned_partitions(replica, replicas))
    return [d for d in (f"dev{i}" for i in range(100)) if partitions.partition_of(d) in owned][:count]


@pytest.mark.slow
async def test_two_replicas_each_transcribe_only_the_devices_of_their_partitions(hub, devices, corpus):
    # PocketSphinx here: it loads in a second and shows the engine switch end to end.
    replicas = [create_service(asr_settings(hub.url, asr_engine="pocketsphinx", asr_replica=i, asr_replicas=2)) for i in (0, 1)]
    names = [*_devices_on(0, 2, 2), *_devices_on(1, 2, 2)]
    for name in names:
        await devices.add(name)
    async with running(replicas[0]), running(replicas[1]), transcripts(hub.url) as log:
        agents = [await GlassesAgent.connect(name, hub.url) for name in names]
        try:
            await asyncio.gather(
                *(a.audio_uplink().send(with_gaps(corpus[i : i + 1], gap_s=0.5), end_of_stream=True) for i, a in enumerate(agents))
            )
            for name in names:
                await log.wait_finals(name, 1, timeout_s=20)
        finally:
            for agent in agents:
                await agent.close()
        for name in names:
            finals = log.finals(name)
            assert len(finals) == 1, f"{name}: {[t.text for t in finals]}"
            assert finals[0].engine == "pocketsphinx-en-us"
            assert finals[0].text, "PocketSphinx heard something"
        # Each replica published exactly the finals of its own two devices.
        assert [metric(r, "sightline_asr_transcripts_total", kind="final") for r in replicas] == [2.0, 2.0]
        assert [metric(r, "sightline_asr_utterances_total", reason="pause") for r in replicas] == [2.0, 2.0]


def _start_asr(url: str, port: int, log_path) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "SIGHTLINE_NATS_URL": url,
        "SIGHTLINE_HTTP_PORT": str(port),
        "SIGHTLINE_HTTP_HOST": "127.0.0.1",
        "SIGHTLINE_INSTANCE": "asr-crash-test",
    }
    with open(log_path, "ab") as log:
        return subprocess.Popen([sys.executable, "-m", "sightline_asr"], env=env, stdout=log, stderr=subprocess.STDOUT)


async def _wait_ready(port: int, process: subprocess.Popen[bytes], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            assert process.poll() is None, "asr exited during start-up"
            try:
                if (await client.get(f"http://127.0.0.1:{port}/readyz", timeout=1)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError("asr did not become ready")


@pytest.mark.slow
async def test_killing_the_asr_process_mid_utterance_does_not_wedge_the_device(hub, devices, corpus, tmp_path):
    await devices.add("survivor")
    port = free_port()
    first = _start_asr(hub.url, port, tmp_path / "asr.log")
    second = None
    try:
        await _wait_ready(port, first)
        async with transcripts(hub.url) as log, GlassesAgent.connect("survivor", hub.url) as glasses:
            mic = glasses.audio_uplink()  # one microphone session across the crash
            talking = asyncio.create_task(mic.send(with_gaps(corpus[5:6], gap_s=0.0)))
            await asyncio.sleep(1.5)  # mid-sentence
            assert log.partials("survivor"), "it was transcribing before the crash"
            first.send_signal(signal.SIGKILL)
            first.wait()
            await talking
            second = _start_asr(hub.url, port, tmp_path / "asr.log")
            await _wait_ready(port, second)
            await mic.send(with_gaps(corpus[6:7], gap_s=0.8), end_of_stream=True)
            finals = await log.wait_finals("survivor", 1)
        assert finals, "the utterance after the restart was not transcribed"
        after = finals[-1]
        assert testing.word_error_rate([corpus[6].text], [after.text]) <= 0.25, after.text
        assert after.stream_id == mic.stream_id
        assert all(t.meta.seq < after.meta.seq for t in log.partials("survivor")), "seq keeps growing across the restart"
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(timeout=30)

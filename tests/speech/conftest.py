"""Speech tests: real nats-server (with the audio partition mapping), the
real asr service and real models, speech synthesised by espeak-ng at run
time. One asr service per test module: loading Moonshine takes seconds."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import nats
import numpy as np
import pytest
import pytest_asyncio
from sightline.v1.asr_pb2 import Transcript
from sightline_asr import testing
from sightline_asr.app import create_service
from sightline_asr.settings import AsrSettings
from sightline_runtime import partitions
from sightline_runtime.devices import DeviceRegistry
from sightline_runtime.natsserver import NatsServer, NatsServerConfig
from sightline_runtime.processes import free_port
from sightline_runtime.pytest_plugin import running_service as running
from sightline_runtime.service import Service


@dataclass(frozen=True)
class Spoken:
    text: str
    wav: Path
    pcm: np.ndarray  # 16 kHz mono int16, converted by sox


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[Spoken]:
    """The test sentences, spoken. Missing espeak-ng or sox fails here, loudly."""
    testing.require("espeak-ng", "sox")
    folder = tmp_path_factory.mktemp("speech")
    spoken = []
    for i, text in enumerate(testing.SENTENCES):
        wav = testing.synthesize(text, folder / f"s{i:02d}.wav")
        spoken.append(Spoken(text, wav, testing.read_pcm16k(wav)))
    return spoken


def with_gaps(items: list[Spoken], gap_s: float = 0.8, lead_s: float = 0.3) -> np.ndarray:
    """Sentences one after another with silence between, as one microphone session."""
    parts = [testing.silence(lead_s)]
    for item in items:
        parts += [item.pcm, testing.silence(gap_s)]
    return np.concatenate(parts)


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory):
    server = NatsServer(
        NatsServerConfig(
            store_dir=tmp_path_factory.mktemp("hub"),
            name="hub",
            leafnode_port=0,  # glasses run as edge nodes, leaves of the hub
            extra={"mappings": partitions.nats_mappings()},
        )
    ).start()
    yield server
    server.stop()


def asr_settings(url: str, **overrides: object) -> AsrSettings:
    return AsrSettings(nats_url=url, http_port=free_port(), http_host="127.0.0.1", **overrides)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def asr(hub) -> AsyncIterator[Service]:
    async with running(create_service(asr_settings(hub.url))) as service:
        yield service


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def hub_client(hub):
    client = await nats.connect(hub.url)
    yield client
    await client.drain()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def devices(hub_client) -> DeviceRegistry:
    return await DeviceRegistry(hub_client.jetstream()).open()


@dataclass
class Heard:
    at: float  # monotonic
    subject: str
    transcript: Transcript


@dataclass
class TranscriptLog:
    """Every transcript on the bus, as it arrives."""

    items: list[Heard] = field(default_factory=list)

    def of(self, device: str) -> list[Heard]:
        return [h for h in self.items if h.subject.endswith(f".{device}")]

    def finals(self, device: str) -> list[Transcript]:
        return [h.transcript for h in self.of(device) if h.transcript.is_final]

    def partials(self, device: str) -> list[Transcript]:
        return [h.transcript for h in self.of(device) if not h.transcript.is_final]

    async def wait_finals(self, device: str, count: int, timeout_s: float = 15.0) -> list[Transcript]:
        deadline = time.monotonic() + timeout_s
        while len(self.finals(device)) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return self.finals(device)


@contextlib.asynccontextmanager
async def transcripts(url: str) -> AsyncIterator[TranscriptLog]:
    log = TranscriptLog()
    client = await nats.connect(url)

    async def heard(msg) -> None:
        log.items.append(Heard(time.monotonic(), msg.subject, Transcript.FromString(msg.data)))

    # asr.final.* is also in JetStream, but the core subscription sees it the moment it is stored.
    await client.subscribe("asr.partial.*", cb=heard)
    await client.subscribe("asr.final.*", cb=heard)
    await client.flush()
    try:
        yield log
    finally:
        await client.drain()


async def stored(js, stream: str, subject: str, *, idle_s: float = 0.5) -> list:
    """Every message `stream` holds on `subject` (read until none arrives for idle_s)."""
    from nats.js.api import ConsumerConfig, DeliverPolicy  # noqa: PLC0415

    sub = await js.subscribe(subject, stream=stream, config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL), ordered_consumer=True)
    got = []
    try:
        while True:
            try:
                got.append(await sub.next_msg(timeout=idle_s))
            except nats.errors.TimeoutError:
                return got
    finally:
        await sub.unsubscribe()


def metric(service: Service, name: str, **labels: str) -> float:
    return service.metrics.registry.get_sample_value(name, labels) or 0.0

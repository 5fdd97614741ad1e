"""Fixtures for the edge and chaos tests (imported by their conftest files):
a hub with JetStream domain "hub" and a leafnode port, services run
in-process against it, and edges started on demand."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import nats
import pytest
from sightline.v1.input_pb2 import DeviceInput
from sightline_glasses.edge import EdgeNode
from sightline_glasses.settings import EdgeSettings
from sightline_runtime import streams
from sightline_runtime.consumer import HandlerSpec
from sightline_runtime.devices import DeviceRegistry
from sightline_runtime.processes import free_port
from sightline_runtime.pytest_plugin import handler_service
from sightline_runtime.service import Service
from sightline_runtime.settings import ServiceSettings
from sightline_vision.app import create_service as create_vision
from sightline_vision.settings import VisionSettings

from tests.edge.helpers import Seen

# The hub-side view: a consumer of the durable up-link with application-level dedup.
VIEW_INPUTS = streams.ConsumerSpec(durable="uplinkview-inputs", filter_subject="glasses.*.up.input")


@pytest.fixture
def hub(nats_server_factory):
    return nats_server_factory("hub", domain="hub", leafnode_port=0)


@pytest.fixture
async def hub_nc(hub):
    client = await nats.connect(hub.url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
    yield client
    await client.close()


@pytest.fixture
async def provision(hub_nc) -> Callable[[str], Awaitable[None]]:
    """What `sightline devices add` (and the local stack's glasses) do at the hub."""

    async def add(device: str) -> None:
        js = hub_nc.jetstream()
        await streams.ensure_stream(js, streams.GLASSES_UP)
        await DeviceRegistry(js).add(device)
        await streams.ensure_uplink_source(js, device)

    return add


@pytest.fixture
async def vision(hub, run_service, vision_engines, tmp_path) -> Service:
    settings = VisionSettings(nats_url=hub.url, http_port=free_port(), http_host="127.0.0.1", log_level="WARNING")
    return await run_service(create_vision(settings, engines=vision_engines))


@pytest.fixture
async def view(hub, run_service) -> Seen:
    """A hub service consuming GLASSES_UP inputs with dedup=True; returns what it saw."""
    seen = Seen()
    settings = ServiceSettings(nats_url=hub.url, http_port=free_port(), http_host="127.0.0.1", log_level="WARNING")
    service = handler_service("uplinkview", settings, HandlerSpec("inputs", DeviceInput, consumer=VIEW_INPUTS, dedup=True), seen.handle)
    seen.service = await run_service(service)
    return seen


@pytest.fixture
def edge_factory(tmp_path: Path):
    """Start edges (glasses' nats-servers) with their store under tmp_path/edge/<device>."""
    started: list[EdgeNode] = []

    def start(device: str, leaf_url: str, **settings) -> EdgeNode:
        edge = EdgeNode(device, tmp_path / "edge" / device, settings=EdgeSettings(**settings), leaf_urls=[leaf_url])
        started.append(edge)
        return edge.start()

    yield start
    for edge in started:
        edge.stop()

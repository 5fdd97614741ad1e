"""Fixtures that run services in-process against a real nats-server, the
same code path as production (Service.serve under uvicorn)."""

from __future__ import annotations

from collections.abc import Callable

import nats
import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sightline_cli.stack import SERVICES
from sightline_runtime.devices import DeviceRegistry
from sightline_runtime.processes import free_port
from sightline_runtime.streams import ensure_streams
from sightline_runtime.surface import deployment_streams, load_surfaces


@pytest.fixture
def http_port() -> int:
    return free_port()


@pytest.fixture
async def nc(nats_server):
    client = await nats.connect(nats_server.url)
    yield client
    await client.drain()


@pytest.fixture
async def owner_streams(nc) -> None:
    """The streams every service owns, as a deployment has them once each
    service started once (translation consumes asr's, overlay both)."""
    await ensure_streams(nc.jetstream(), deployment_streams(load_surfaces(SERVICES)))


@pytest.fixture
async def registry(nc) -> DeviceRegistry:
    return await DeviceRegistry(nc.jetstream()).open()


@pytest.fixture
def span_exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def tracer_for(span_exporter) -> Callable[[str], TracerProvider]:
    """One provider per service name, all exporting to the same in-memory exporter."""
    providers: dict[str, TracerProvider] = {}

    def make(service: str) -> TracerProvider:
        if service not in providers:
            provider = TracerProvider(resource=Resource.create({"service.name": service}))
            provider.add_span_processor(SimpleSpanProcessor(span_exporter))
            providers[service] = provider
        return providers[service]

    return make

"""A service's life: health and readiness, surviving a hub restart, draining
in-flight work on stop, gRPC health, and failing loudly when it cannot start."""

import asyncio
import os
import subprocess
import sys

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sightline.v1.input_pb2 import DeviceInput
from sightline_asr.bus import ASR
from sightline_assistant.bus import ASSISTANT
from sightline_glasses.agent import GlassesAgent
from sightline_overlay.app import create_service
from sightline_overlay.settings import OverlaySettings
from sightline_runtime import subjects
from sightline_runtime.consumer import HandlerSpec
from sightline_runtime.processes import free_port
from sightline_runtime.pytest_plugin import handler_service
from sightline_runtime.settings import ServiceSettings
from sightline_runtime.streams import ConsumerSpec, ensure_streams
from sightline_translation.bus import TRANSLATION
from sightline_vision.bus import VISION


async def _get(port: int, path: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=5) as client:
        return await client.get(f"http://127.0.0.1:{port}{path}")


async def _wait_status(port: int, path: str, status: int, timeout_s: float = 20.0) -> httpx.Response:
    async with asyncio.timeout(timeout_s):
        while True:
            response = await _get(port, path)
            if response.status_code == status:
                return response
            await asyncio.sleep(0.1)


async def test_a_consumer_of_a_stream_not_yet_created_waits_for_it_honestly(nats_server, run_service, nc, registry, http_port):
    """overlay starts before asr, translation, vision and the assistant ever ran: it is ready (typed
    text works) but says which consumers wait for a stream, and attaches them
    by itself once the owners create their streams."""
    await run_service(create_service(OverlaySettings(nats_url=nats_server.url, http_port=http_port, http_host="127.0.0.1")))
    waiting = (await _wait_status(http_port, "/readyz", 200)).json()
    assert waiting["degraded"]["waiting_for_streams"] == [
        "asr_final: no stream holds asr.final.* yet",
        "translation_final: no stream holds translation.final.* yet",
        "vision_result: no stream holds vision.result.* yet",
        "photo_translation: no stream holds translation.photo.* yet",
        "assistant_reply: no stream holds assistant.reply.* yet",
    ]
    await registry.add("a")
    async with GlassesAgent.connect("a", nats_server.url) as glasses:
        await glasses.send_text("typed text works meanwhile")
        assert [u.panel.text.lines[0] async for u in glasses.updates(5.0)] == ["typed text works meanwhile"]
    await ensure_streams(nc.jetstream(), [ASR, TRANSLATION, VISION, ASSISTANT])
    async with asyncio.timeout(10):
        while "degraded" in (await _get(http_port, "/readyz")).json():
            await asyncio.sleep(0.1)
    names = {c.name async for c in _consumers(nc.jetstream(), "ASR")}
    assert names == {"overlay-asr-finals"}


async def _consumers(js, stream):
    for info in await js.consumers_info(stream):
        yield info


async def test_health_readiness_and_a_hub_restart(nats_server, owner_streams, run_service, registry, http_port):
    await run_service(create_service(OverlaySettings(nats_url=nats_server.url, http_port=http_port, http_host="127.0.0.1")))
    assert (await _get(http_port, "/healthz")).json() == {"status": "alive", "service": "overlay"}
    ready = await _wait_status(http_port, "/readyz", 200)
    assert ready.json()["checks"] == {"not_draining": True, "broker": True, "subscriptions": True, "device_registry": True}

    await registry.add("a")
    nats_server.stop()
    not_ready = await _wait_status(http_port, "/readyz", 503)
    assert not_ready.json()["checks"]["broker"] is False
    assert (await _get(http_port, "/healthz")).status_code == 200, "alive while the hub is away: no restart storm"

    nats_server.start()  # same port, same JetStream store
    await _wait_status(http_port, "/readyz", 200, timeout_s=30)
    async with GlassesAgent.connect("a", nats_server.url) as glasses:
        await glasses.send_text("after the outage")
        assert [u.panel.text.lines[0] async for u in glasses.updates(5.0)] == ["after the outage"]


async def test_stop_finishes_in_flight_work_before_closing(nats_server, run_service, nc, registry):
    started, finished = asyncio.Event(), asyncio.Event()

    async def slow(event, ctx):
        started.set()
        await asyncio.sleep(1.0)
        finished.set()

    settings = ServiceSettings(nats_url=nats_server.url, http_port=0, http_host="127.0.0.1")
    spec = HandlerSpec("device_input", DeviceInput, consumer=ConsumerSpec("slow-input", subjects.UP_INPUT_ALL))
    service = handler_service("slow", settings, spec, slow)
    task = asyncio.create_task(service.serve())
    async with asyncio.timeout(20):
        while not service.started:
            await asyncio.sleep(0.02)
    await registry.add("a")
    async with GlassesAgent.connect("a", nats_server.url) as glasses:
        await glasses.send_text("take your time")
    await asyncio.wait_for(started.wait(), 10)
    service.stop()  # what SIGTERM does
    assert await asyncio.wait_for(task, 30) is True
    assert finished.is_set(), "the handler ran to the end"
    info = await nc.jetstream().consumer_info("GLASSES_UP", "slow-input")
    assert info.num_ack_pending == 0, "acknowledged before the connection closed"
    assert info.num_pending == 0


async def test_grpc_health_mirrors_readiness(nats_server, owner_streams, run_service):
    grpc_port = free_port()
    settings = OverlaySettings(nats_url=nats_server.url, http_port=free_port(), http_host="127.0.0.1", grpc_health_port=grpc_port)
    service = await run_service(create_service(settings))
    async with grpc.aio.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        async with asyncio.timeout(10):
            while True:
                reply = await stub.Check(health_pb2.HealthCheckRequest(service="overlay"))
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    break
                await asyncio.sleep(0.2)
        service.readiness.draining = True
        async with asyncio.timeout(10):
            while (await stub.Check(health_pb2.HealthCheckRequest(service=""))).status != health_pb2.HealthCheckResponse.NOT_SERVING:
                await asyncio.sleep(0.2)


def test_a_service_that_cannot_reach_nats_exits_non_zero_with_a_reason():
    env = os.environ | {
        "SIGHTLINE_NATS_URL": f"nats://127.0.0.1:{free_port()}",
        "SIGHTLINE_HTTP_PORT": str(free_port()),
        "SIGHTLINE_NATS_CONNECT_TIMEOUT_S": "1",
        "SIGHTLINE_NATS_STARTUP_TIMEOUT_S": "2",
    }
    result = subprocess.run([sys.executable, "-m", "sightline_overlay"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "cannot reach NATS; giving up start-up" in result.stdout
    assert "failed to start" in result.stdout

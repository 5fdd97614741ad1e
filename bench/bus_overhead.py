"""What the Sightline bus path costs on top of NATS itself.

Three paths, measured in the same run against the same nats-server:
  floor/core     raw nats-py request/reply (one core NATS round trip)
  floor/js       raw nats-py: JetStream publish (acked) -> pull consumer fetch(1)
                 -> ack -> core publish back: the transport the text flow uses
  sightline      GlassesAgent.send_text -> overlay service (guard, decode,
                 registry check, layout, publish, tracing) -> glasses receive
The difference between `sightline` and `floor/js` is the runtime's overhead.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

import nats
from nats.js.api import ConsumerConfig

from bench.stats import latency_plot, summarize, table

N_CORE = 2000
N_FLOW = 300
WARMUP = 30


async def _floor_core(nc) -> list[float]:
    async def echo(msg):
        await msg.respond(msg.data)

    await nc.subscribe("bench.echo", cb=echo)
    samples = []
    for i in range(WARMUP + N_CORE):
        t0 = time.perf_counter()
        await nc.request("bench.echo", b"x" * 64, timeout=5)
        if i >= WARMUP:
            samples.append((time.perf_counter() - t0) * 1000)
    return samples


async def _floor_js(nc) -> list[float]:
    js = nc.jetstream()
    await js.add_stream(name="BENCH", subjects=["bench.in.*"])
    psub = await js.pull_subscribe("bench.in.*", durable="bench", config=ConsumerConfig(ack_wait=30))
    got: asyncio.Queue[bytes] = asyncio.Queue()

    async def on_back(msg):
        await got.put(msg.data)

    await nc.subscribe("bench.back", cb=on_back)

    async def worker():
        while True:
            for msg in await psub.fetch(1, timeout=30):
                await msg.ack()
                await nc.publish("bench.back", msg.data)

    task = asyncio.create_task(worker())
    samples = []
    for i in range(WARMUP + N_FLOW):
        t0 = time.perf_counter()
        await js.publish("bench.in.a", b"x" * 64, headers={"Nats-Msg-Id": f"m{i}"})
        await got.get()
        if i >= WARMUP:
            samples.append((time.perf_counter() - t0) * 1000)
    task.cancel()
    return samples


async def _sightline(url: str) -> list[float]:
    from sightline_glasses.agent import GlassesAgent  # noqa: PLC0415
    from sightline_overlay.app import create_service  # noqa: PLC0415
    from sightline_overlay.settings import OverlaySettings  # noqa: PLC0415
    from sightline_runtime.devices import DeviceRegistry  # noqa: PLC0415
    from sightline_runtime.processes import free_port  # noqa: PLC0415

    service = create_service(OverlaySettings(nats_url=url, http_port=free_port(), http_host="127.0.0.1", log_level="WARNING"))
    task = asyncio.create_task(service.serve())
    while not service.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
        await asyncio.sleep(0.02)
    samples = []
    try:
        async with GlassesAgent("bench", url) as glasses:
            await DeviceRegistry(glasses.nc.jetstream()).add("bench")
            for i in range(WARMUP + N_FLOW):
                t0 = time.perf_counter()
                await glasses.send_text(f"benchmark line {i}")
                async for _ in glasses.updates(5.0):
                    break
                if i >= WARMUP:
                    samples.append((time.perf_counter() - t0) * 1000)
    finally:
        service.stop()
        await task
    return samples


async def _measure(url: str) -> dict[str, list[float]]:
    nc = await nats.connect(url)
    try:
        core = await _floor_core(nc)
        js = await _floor_js(nc)
    finally:
        await nc.drain()
    return {"floor/core request-reply": core, "floor/js publish-fetch-reply": js, "sightline text round trip": await _sightline(url)}


def run(report_dir: Path) -> dict:
    from sightline_runtime.natsserver import NatsServer, NatsServerConfig  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as tmp, NatsServer(NatsServerConfig(store_dir=Path(tmp), name="bench")) as server:
        samples = asyncio.run(_measure(server.url))
    stats = {name: summarize(values) for name, values in samples.items()}
    overhead = stats["sightline text round trip"]["p50"] - stats["floor/js publish-fetch-reply"]["p50"]
    latency_plot(samples, report_dir / "bus_overhead.png", "Text round trip vs raw NATS floors (CDF)")
    (report_dir / "bus_overhead.md").write_text(
        "# Bus overhead\n\n"
        f"{__doc__}\n"
        f"{table(stats)}\n\n"
        f"Runtime overhead at p50 (sightline - floor/js): **{overhead:.2f} ms**.\n\n"
        "![CDF](bus_overhead.png)\n"
    )
    return {"stats": stats, "overhead_p50_ms": overhead}

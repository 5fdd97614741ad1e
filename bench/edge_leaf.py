"""What the glasses' edge node costs, and how fast it catches up.

Measured in one run against real nats-servers: a hub (JetStream domain
"hub") and the glasses' edge node exactly as `sightline glasses` runs it
(domain edge-bench, every write fsynced), connected as a leaf node.

Latency, every sample interleaved so both paths see the same machine load:
  core direct     request/reply, requester connected to the hub
  core via leaf   the same request from a client of the edge: two more
                  server hops (edge -> hub and back)
  durable direct  JetStream publish into the hub's GLASSES_UP (acked) ->
                  a hub consumer receives it
  durable via leaf  publish into the edge outbox (acked locally) -> the hub
                  sources it across the leaf -> the same hub consumer
The difference between each pair is what the leaf hop (and, for durable,
sourcing instead of a direct publish) adds.

Backlog: the leaf link is cut (a TCP relay drops it), 1,000 up-link events
are written into the edge outbox, the link is restored; drain time runs
from the restore until the hub's stream holds all 1,000 (and, separately,
until the edge's consumer ack floor confirms all of them).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

import nats
from nats.js import api

from bench.stats import latency_plot, summarize, table

N_CORE = 2000
N_DURABLE = 300
WARMUP = 30
BACKLOG = 1000
DRAIN_RUNS = 3
DEVICE = "bench"


async def _core(hub_url: str, edge_url: str) -> dict[str, list[float]]:
    responder = await nats.connect(hub_url)
    direct = await nats.connect(hub_url)
    leafed = await nats.connect(edge_url)

    async def echo(msg):
        await msg.respond(msg.data)

    await responder.subscribe("bench.echo", cb=echo)
    await responder.flush()
    await asyncio.sleep(0.5)  # interest crosses the leaf
    samples: dict[str, list[float]] = {"core direct": [], "core via leaf": []}
    for i in range(WARMUP + N_CORE):
        for name, client in (("core direct", direct), ("core via leaf", leafed)):
            started = time.perf_counter()
            await client.request("bench.echo", b"x" * 64, timeout=5)
            if i >= WARMUP:
                samples[name].append((time.perf_counter() - started) * 1000)
    for client in (responder, direct, leafed):
        await client.close()
    return samples


async def _durable(hub_url: str, edge_url: str) -> dict[str, list[float]]:
    from sightline_runtime import streams  # noqa: PLC0415

    hub = await nats.connect(hub_url)
    edge = await nats.connect(edge_url)
    hub_js, edge_js = hub.jetstream(), edge.jetstream()
    await streams.ensure_stream(hub_js, streams.GLASSES_UP)
    outbox = streams.edge_uplink_stream(DEVICE)
    await streams.ensure_stream(edge_js, outbox)
    await edge_js.add_consumer(outbox.name, streams.edge_uplink_consumer(DEVICE, heartbeat_s=5.0))
    await streams.ensure_uplink_source(hub_js, DEVICE)
    arrived: dict[str, asyncio.Future[float]] = {}

    async def on_message(msg):
        future = arrived.get(msg.headers.get("Nats-Msg-Id", "")) if msg.headers else None
        if future is not None and not future.done():
            future.set_result(time.perf_counter())

    # The hub-side consumer: everything the stream stores on this device's input subject.
    await hub_js.subscribe(
        f"glasses.{DEVICE}.up.input", cb=on_message, ordered_consumer=True, config=api.ConsumerConfig(deliver_policy=api.DeliverPolicy.NEW)
    )
    samples: dict[str, list[float]] = {"durable direct": [], "durable via leaf": []}
    loop = asyncio.get_running_loop()
    for i in range(WARMUP + N_DURABLE):
        for name, js, stream in (("durable direct", hub_js, "GLASSES_UP"), ("durable via leaf", edge_js, outbox.name)):
            msg_id = f"{name}-{i}"
            arrival = arrived[msg_id] = loop.create_future()
            started = time.perf_counter()
            await js.publish(f"glasses.{DEVICE}.up.input", b"y" * 200, headers={"Nats-Msg-Id": msg_id}, stream=stream)
            try:
                done = await asyncio.wait_for(arrival, 10)
            finally:
                arrived.pop(msg_id, None)
            if i >= WARMUP:
                samples[name].append((done - started) * 1000)
    await hub.close()
    await edge.close()
    return samples


async def _drain_once(hub_url: str, edge_server, proxy, run: int) -> dict[str, float]:
    from sightline_runtime import streams  # noqa: PLC0415

    hub = await nats.connect(hub_url)
    edge = await nats.connect(edge_server.url)
    hub_js, edge_js = hub.jetstream(), edge.jetstream()
    outbox = streams.edge_uplink_stream(DEVICE)
    subject = f"glasses.{DEVICE}.up.input"

    async def on_hub() -> int:
        info = await hub_js.stream_info("GLASSES_UP", subjects_filter=subject)
        return sum((info.state.subjects or {}).values())

    start_count = await on_hub()
    await proxy.cut()
    payload = b"z" * 200
    for i in range(BACKLOG):
        await edge_js.publish(subject, payload, headers={"Nats-Msg-Id": f"backlog-{run}-{i}"}, stream=outbox.name)
    assert await on_hub() == start_count, "nothing may cross while the link is cut"
    restored = time.perf_counter()
    await proxy.restore()
    leaf_up = stored = acked = None
    while stored is None or acked is None:
        now = time.perf_counter()
        if leaf_up is None and await asyncio.to_thread(edge_server.leaf_connections) > 0:
            leaf_up = now
        if stored is None and await on_hub() >= start_count + BACKLOG:
            stored = now
        if acked is None:
            info = await edge_js.consumer_info(outbox.name, streams.UPLINK_CONSUMER)
            if info.num_pending + info.num_ack_pending == 0:
                acked = now
        if now - restored > 120:
            raise RuntimeError("the backlog did not drain in 120 s")
        await asyncio.sleep(0.005)
    assert await on_hub() == start_count + BACKLOG, "exactly the backlog, no duplicates"
    await hub.close()
    await edge.close()
    return {
        "leaf reconnect (s)": (leaf_up or stored) - restored,
        "all 1,000 on the hub (s)": stored - restored,
        "edge confirms all (s)": acked - restored,
    }


async def _measure(hub, edge, proxy) -> tuple[dict[str, list[float]], list[dict[str, float]]]:
    samples = await _core(hub.url, edge.url)
    samples |= await _durable(hub.url, edge.url)
    drains = [await _drain_once(hub.url, edge, proxy, run) for run in range(DRAIN_RUNS)]
    return samples, drains


def run(report_dir: Path) -> dict:
    from sightline_glasses.edge import EdgeNode  # noqa: PLC0415
    from sightline_runtime.natsserver import NatsServer, NatsServerConfig  # noqa: PLC0415

    from tests.edge.helpers import LeafLinkProxy  # noqa: PLC0415 - the tests' cuttable leaf link

    async def main():
        with tempfile.TemporaryDirectory() as tmp:
            hub = NatsServer(NatsServerConfig(store_dir=Path(tmp) / "hub", name="hub", domain="hub", leafnode_port=0)).start()
            proxy = await LeafLinkProxy(hub.config.leafnode_port).start()
            # The glasses' own edge configuration (fsync on every write, deny rules, ...).
            edge = EdgeNode(DEVICE, Path(tmp) / "edge", leaf_urls=[proxy.url]).start()
            try:
                for _ in range(200):
                    if edge.leaf_up():
                        break
                    await asyncio.sleep(0.05)
                return await _measure(hub, edge.server, proxy)
            finally:
                await proxy.close()
                edge.stop()
                hub.stop()

    samples, drains = asyncio.run(main())
    stats = {name: summarize(values) for name, values in samples.items()}
    extra = {
        "core": {q: stats["core via leaf"][q] - stats["core direct"][q] for q in ("p50", "p99")},
        "durable": {q: stats["durable via leaf"][q] - stats["durable direct"][q] for q in ("p50", "p99")},
    }
    latency_plot(samples, report_dir / "edge_leaf.png", "Leaf hop vs direct client (CDF)")
    drain_rows = ["| run | " + " | ".join(drains[0]) + " |", "| --- |" + " --- |" * len(drains[0])]
    drain_rows += [f"| {i + 1} | " + " | ".join(f"{v:.2f}" for v in d.values()) + " |" for i, d in enumerate(drains)]
    (report_dir / "edge_leaf.md").write_text(
        "# Edge node: leaf hop and offline backlog\n\n"
        f"{__doc__}\n"
        f"{table(stats)}\n\n"
        f"Extra latency of the leaf hop, core request/reply: **p50 +{extra['core']['p50']:.2f} ms, "
        f"p99 +{extra['core']['p99']:.2f} ms**.\n\n"
        f"Durable up-link through the edge outbox and sourcing vs a direct JetStream publish: "
        f"**p50 +{extra['durable']['p50']:.2f} ms, p99 +{extra['durable']['p99']:.2f} ms**.\n\n"
        f"Draining a backlog of {BACKLOG:,} events (200-byte payloads) after the link returns:\n\n"
        + "\n".join(drain_rows)
        + "\n\n![CDF](edge_leaf.png)\n"
    )
    return {"stats": stats, "extra_ms": extra, "drain_s": drains}

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
import contextlib
import functools
import itertools
import statistics
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


@contextlib.contextmanager
def _pull_consumers(consumers: list):
    """Bench-local wiring of sightline_runtime.pull: durables are consumed by
    PullConsumer (with a ConsumerLease for ordered dedup handlers, so the inbox
    keeps watermarks) instead of faststream's pull subscriber. Remove once
    Service wires pull.py itself."""
    from sightline_runtime.pull import PullConsumer  # noqa: PLC0415
    from sightline_runtime.service import Service  # noqa: PLC0415

    original = Service._durable

    def durable(self, spec, handler, stream):
        guard = self.guard
        lease = guard.inbox.lease(spec.name) if spec.dedup and spec.ordered and guard.inbox is not None else None
        consumer = PullConsumer(
            self.broker.connection.jetstream(),
            stream,
            spec.consumer.config(ack_wait_s=self.settings.ack_wait_s, max_deliver=self.settings.max_deliver),
            lambda pulled, spec=spec, handler=handler: guard.handle(spec, handler, pulled),
            batch=1 if spec.ordered else 16,
            ordered=spec.ordered,
            max_workers=spec.max_workers,
            lease=lease,
            tracer_provider=self.tracer_provider,
            title=f"{self.name}.{spec.name}",
        )
        consumers.append(consumer)
        asyncio.get_running_loop().create_task(consumer.start())
        self.subscribed.append(spec.consumer.filter_subject)
        return consumer

    Service._durable = durable
    try:
        yield consumers
    finally:
        Service._durable = original


async def _with_overlay(url: str, one_round, rounds: int, *, pull: bool = False) -> None:
    """Run the overlay service in this process and `one_round(glasses, i)` `rounds` times."""
    from sightline_glasses.agent import GlassesAgent  # noqa: PLC0415
    from sightline_overlay.app import create_service  # noqa: PLC0415
    from sightline_overlay.settings import OverlaySettings  # noqa: PLC0415
    from sightline_runtime.devices import DeviceRegistry  # noqa: PLC0415
    from sightline_runtime.processes import free_port  # noqa: PLC0415

    consumers: list = []
    with _pull_consumers(consumers) if pull else contextlib.nullcontext():
        service = create_service(OverlaySettings(nats_url=url, http_port=free_port(), http_host="127.0.0.1", log_level="WARNING"))
        task = asyncio.create_task(service.serve())
        while not service.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
            await asyncio.sleep(0.02)
    try:
        async with GlassesAgent("bench", url) as glasses:
            await DeviceRegistry(glasses.nc.jetstream()).add("bench")
            for i in range(rounds):
                await one_round(glasses, i)
    finally:
        for consumer in consumers:
            await consumer.stop()
        service.stop()
        await task


async def _sightline(url: str, *, pull: bool = False) -> list[float]:
    samples = []

    async def one_round(glasses, i):
        t0 = time.perf_counter()
        await glasses.send_text(f"benchmark line {i}")
        async for _ in glasses.updates(5.0):
            break
        if i >= WARMUP:
            samples.append((time.perf_counter() - t0) * 1000)

    await _with_overlay(url, one_round, WARMUP + N_FLOW, pull=pull)
    return samples


# --- where the time goes: a second, instrumented pass over the same path ---
# Each named call is timestamped on entry (">") and exit ("<"); everything runs on
# one event loop, so the segments between consecutive marks add up to the round
# trip. The instrumentation itself costs ~3 us a mark pair, so this pass is a
# little slower than the measured one; its job is the split, not the total.
TRACE_N = 300


@contextlib.contextmanager
def _stage_marks(points: list[tuple[type, str, object]]):
    marks: list[tuple[str, float]] = []
    saved = []
    for cls, attr, tag in points:
        original = getattr(cls, attr)
        saved.append((cls, attr, original))

        if asyncio.iscoroutinefunction(original):

            async def wrapped(*args, __original=original, __tag=tag, **kwargs):
                name = __tag(args, kwargs) if callable(__tag) else __tag
                marks.append((name + ">", time.perf_counter()))
                try:
                    return await __original(*args, **kwargs)
                finally:
                    marks.append((name + "<", time.perf_counter()))

        else:

            def wrapped(*args, __original=original, __tag=tag, **kwargs):
                name = __tag(args, kwargs) if callable(__tag) else __tag
                marks.append((name + ">", time.perf_counter()))
                try:
                    return __original(*args, **kwargs)
                finally:
                    marks.append((name + "<", time.perf_counter()))

        setattr(cls, attr, functools.wraps(original)(wrapped))
    try:
        yield marks
    finally:
        for cls, attr, original in saved:
            setattr(cls, attr, original)


def _segments(rounds: list[list[tuple[str, float]]]) -> list[tuple[str, str, float]]:
    """Median microseconds between consecutive marks (first occurrence of each)."""
    firsts = []
    for marks in rounds:
        first: dict[str, float] = {}
        for name, t in marks:
            first.setdefault(name, t)
        firsts.append(first)
    common = set.intersection(*(set(f) for f in firsts))
    order = sorted(common, key=lambda n: statistics.median(f[n] - f["start"] for f in firsts))
    return [(a, b, statistics.median((f[b] - f[a]) * 1e6 for f in firsts)) for a, b in itertools.pairwise(order)]


def _trace_points() -> list[tuple[type, str, object]]:
    import nats.aio.msg as nats_msg  # noqa: PLC0415
    import nats.js.client as js_client  # noqa: PLC0415
    from sightline_glasses.agent import GlassesAgent  # noqa: PLC0415
    from sightline_overlay.handlers import OverlayHandlers  # noqa: PLC0415
    from sightline_runtime.consumer import EventGuard  # noqa: PLC0415
    from sightline_runtime.inbox import Inbox  # noqa: PLC0415
    from sightline_runtime.publisher import EventPublisher  # noqa: PLC0415

    def js_publish(args, kwargs):
        subject = args[1] if len(args) > 1 else kwargs["subject"]
        return "kv-write" if subject.startswith("$KV.") else "agent-js-publish"

    return [
        (GlassesAgent, "send_text", "send_text"),
        (js_client.JetStreamContext, "publish", js_publish),
        (js_client.JetStreamContext.PullSubscription, "fetch", "fetch"),
        (EventGuard, "handle", "guard"),
        (Inbox, "claim", "claim"),
        (OverlayHandlers, "on_device_input", "handler"),
        (EventPublisher, "publish", "publish"),
        (Inbox, "finish", "done-mark"),
        (nats_msg.Msg, "ack", "ack"),
        (GlassesAgent, "_on_display", "glasses-callback"),
    ]


async def _traced_sightline(url: str, *, pull: bool = False) -> list[tuple[str, str, float]]:
    with _stage_marks(_trace_points()) as marks:
        rounds = []

        async def one_round(glasses, i):
            # Let the service finish the previous event's tail first, so each
            # round starts from the same state (a pending fetch, nothing queued).
            await asyncio.sleep(0.003)
            marks.clear()
            marks.append(("start", time.perf_counter()))
            await glasses.send_text(f"benchmark line {i}")
            async for _ in glasses.updates(5.0):
                break
            marks.append(("end", time.perf_counter()))
            if i >= WARMUP:
                rounds.append(list(marks))

        await _with_overlay(url, one_round, WARMUP + TRACE_N, pull=pull)
    return _segments(rounds)


# What happens in each segment, keyed by the mark that ends it.
_STAGE_NOTES = {
    "send_text>": "bench loop",
    "agent-js-publish>": "glasses: DeviceInput, meta, tracing span, headers",
    "agent-js-publish<": "glasses: JetStream publish, waiting for the PubAck (in the floor too)",
    "send_text<": "glasses: span end",
    "fetch<": "server delivers to the waiting pull request (in the floor too)",
    "guard>": "faststream: task group, ack/logging/telemetry middlewares (consumer span), parser, fast_depends",
    "claim>": "guard: size check, protobuf decode, device registry lookup, source check",
    "kv-write>": "inbox: key, JSON claim value",
    "kv-write<": "inbox: KV write (create/update), awaited PubAck",
    "claim<": "inbox: claim result",
    "handler>": "guard: dispatch",
    "publish>": "overlay handler: panel layout, HybridClock, meta",
    "publish<": "EventPublisher -> faststream publish (telemetry middleware, producer span, headers) -> core publish",
    "handler<": "overlay handler: metric",
    "done-mark>": "guard",
    "glasses-callback>": "inbox done mark (KV update, awaited) while the display update waits in the socket",
    "glasses-callback<": "glasses: decode the DisplayUpdate, checks, queue",
    "end": "service: ack, next fetch request; bench loop wakes up",
}


def _breakdown_table(segments: list[tuple[str, str, float]], measured_p50_ms: float) -> str:
    """The segments, plus each one's share of the traced total applied to the
    measured p50 (the instrumented pass runs slower; its proportions are the point)."""
    total = sum(us for _, _, us in segments)
    lines = [
        "| from -> to | what runs | traced median (us) | share | of the measured p50 (us) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for a, b, us in segments:
        share = us / total
        lines.append(f"| {a} -> {b} | {_STAGE_NOTES.get(b, '')} | {us:.0f} | {share:.0%} | {share * measured_p50_ms * 1000:.0f} |")
    lines.append(f"| total | | {total:.0f} | 100% | {measured_p50_ms * 1000:.0f} |")
    return "\n".join(lines)


async def _measure(url: str) -> dict[str, list[float]]:
    nc = await nats.connect(url)
    try:
        core = await _floor_core(nc)
        js = await _floor_js(nc)
    finally:
        await nc.drain()
    return {"floor/core request-reply": core, "floor/js publish-fetch-reply": js, "sightline text round trip": await _sightline(url)}


async def _measure_all(url: str) -> tuple[dict[str, list[float]], list[tuple[str, str, float]]]:
    samples = await _measure(url)
    return samples, await _traced_sightline(url)


def run(report_dir: Path) -> dict:
    from sightline_runtime.natsserver import NatsServer, NatsServerConfig  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as tmp, NatsServer(NatsServerConfig(store_dir=Path(tmp), name="bench")) as server:
        samples, segments = asyncio.run(_measure_all(server.url))
    stats = {name: summarize(values) for name, values in samples.items()}
    overhead = stats["sightline text round trip"]["p50"] - stats["floor/js publish-fetch-reply"]["p50"]
    latency_plot(samples, report_dir / "bus_overhead.png", "Text round trip vs raw NATS floors (CDF)")
    (report_dir / "bus_overhead.md").write_text(
        "# Bus overhead\n\n"
        f"{__doc__}\n"
        f"{table(stats)}\n\n"
        f"Runtime overhead at p50 (sightline - floor/js): **{overhead:.2f} ms**.\n\n"
        "![CDF](bus_overhead.png)\n\n"
        "## Where the round trip goes\n\n"
        f"An instrumented pass ({TRACE_N} round trips, same server, same run; each named call timestamped on entry\n"
        "`>` and exit `<`; each round starts after a 3 ms pause, so the traced total is above the p50 above: read the shares).\n"
        "Everything runs on one event loop, so the segments add up to the round trip.\n\n"
        f"{_breakdown_table(segments, stats['sightline text round trip']['p50'])}\n"
    )
    return {"stats": stats, "overhead_p50_ms": overhead, "breakdown_us": segments}

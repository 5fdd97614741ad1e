"""Live captions on the glasses: what the wearer sees, and when.

A real nats-server (with the audio partition mapping) and the asr,
translation and overlay services, each as its own process, as deployed.
Simulated glasses in this process speak espeak-ng utterances of 2-6 s at
real-time pace (the same utterances and pacing as bench/asr_latency.py)
and timestamp every display update they accept. Per utterance:

  first partial caption   speech onset leaves the glasses -> the first caption
                          update showing that utterance arrives at the glasses
  final caption           end of speech (last voiced sample leaves the glasses)
                          -> the caption update caused by the utterance's final
                          translation arrives: the committed, translated line

Runs: one device (en->es, Apertium), and five devices at once (en->es and
en->zh, Apertium and CC-CEDICT). Floors for this 2-core machine: from
issue 3, p50 end of speech -> final caption <= 700 ms and first caption
<= 800 ms after speech starts; from issue 8, one device p50 end of speech
-> final caption <= 350 ms, and five devices at once p95 first caption
<= 1.5 s and p95 final caption <= 1.2 s.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nats
import numpy as np
from sightline.v1.asr_pb2 import Transcript
from sightline.v1.display_pb2 import DisplayUpdate, HudRegion
from sightline.v1.translation_pb2 import Translation
from sightline_glasses.agent import GlassesAgent
from sightline_runtime import partitions
from sightline_runtime.devices import DeviceRegistry
from sightline_runtime.natsserver import NatsServer, NatsServerConfig

from bench.asr_latency import GAP_S, LEAD_S, RATE, DeviceRun, Utterance, lay_out, make_utterances
from bench.processes import ServiceProcess
from bench.stats import latency_plot, summarize, table

FLOOR_FINAL_P50_MS = 700
FLOOR_PARTIAL_P50_MS = 800
# Issue 8 (adaptive end of utterance, two inference workers).
FLOOR_FINAL_P50_MS_ONE = 350
FLOOR_FIRST_P95_MS_FIVE = 1500
FLOOR_FINAL_P95_MS_FIVE = 1200


@dataclass
class Watched:
    run: DeviceRun
    target: str
    finals: list[Transcript] = field(default_factory=list)
    translation_finals: dict[str, str] = field(default_factory=dict)  # translation event id -> utterance id
    captions: list[tuple[float, DisplayUpdate]] = field(default_factory=list)


async def speak_and_watch(hub_url: str, watched: list[Watched]) -> None:
    by_device = {w.run.device: w for w in watched}
    client = await nats.connect(hub_url)

    async def on_final(msg) -> None:
        t = Transcript.FromString(msg.data)
        if t.meta.device_id in by_device:
            by_device[t.meta.device_id].finals.append(t)

    async def on_translation(msg) -> None:
        tr = Translation.FromString(msg.data)
        if tr.meta.device_id in by_device:
            by_device[tr.meta.device_id].translation_finals[tr.meta.event_id] = tr.utterance_id

    await client.subscribe("asr.final.*", cb=on_final)
    await client.subscribe("translation.final.*", cb=on_translation)
    await client.flush()
    agents = []
    for w in watched:
        agent = await GlassesAgent.connect(w.run.device, hub_url)
        # Timestamped the moment the glasses accept it, before any queueing here.
        agent.display_listeners.append(
            lambda update, w=w: w.captions.append((time.monotonic(), update)) if update.region == HudRegion.HUD_REGION_CAPTION else None
        )
        agents.append(agent)
    try:

        async def speak(agent: GlassesAgent, w: Watched) -> None:
            uplink = agent.audio_uplink(source_language="en", target_language=w.target)
            w.run.started, w.run.wall_started = time.monotonic(), time.time()
            await uplink.send(w.run.stream, end_of_stream=True)

        await asyncio.gather(*(speak(a, w) for a, w in zip(agents, watched, strict=True)))
        await asyncio.sleep(3.0)
    finally:
        for agent in agents:
            await agent.close()
        await client.drain()


def measure(w: Watched) -> tuple[list[float], list[float], int]:
    """(first partial caption ms, final caption ms, utterances missed)."""
    run, partial_ms, final_ms, missed = w.run, [], [], 0
    for p in run.placed:
        onset = p.offset + int(p.utterance.onset * RATE)
        end = p.offset + int(p.utterance.end * RATE) - 1
        own = [t for t in w.finals if onset / RATE - GAP_S / 2 < t.speech_started_at.ToNanoseconds() / 1e9 - run.wall_started < end / RATE]
        if not own:
            missed += 1
            continue
        utterances = {t.utterance_id for t in own}
        # The caption caused by the final translation of the utterance's last part.
        last = own[-1].utterance_id
        final_causes = {event_id for event_id, utt in w.translation_finals.items() if utt == last}
        final_at = [at for at, u in w.captions if u.meta.causation_id in final_causes]
        shown_at = [at for at, u in w.captions if any(e.utterance_id in utterances for e in u.caption.entries)]
        if not final_at:
            missed += 1
            continue
        final_ms.append((min(final_at) - run.published_at(end)) * 1000)
        if shown_at:
            partial_ms.append((min(shown_at) - run.published_at(onset)) * 1000)
    return partial_ms, final_ms, missed


async def scenario(hub_url: str, registry: DeviceRegistry, plan: list[tuple[list[Utterance], str]]) -> dict:
    watched = []
    for i, (utterances, target) in enumerate(plan):
        name = f"captions-{len(plan)}-{i}"
        await registry.add(name)
        watched.append(Watched(lay_out(name, utterances, lead_s=LEAD_S + 0.37 * i), target))
    await speak_and_watch(hub_url, watched)
    partial_ms, final_ms, missed = [], [], 0
    for w in watched:
        p, f, m = measure(w)
        partial_ms += p
        final_ms += f
        missed += m
    return {
        "devices": len(plan),
        "utterances": sum(len(u) for u, _ in plan),
        "missed": missed,
        "first_partial_ms": partial_ms,
        "final_ms": final_ms,
    }


async def _main() -> dict:
    with tempfile.TemporaryDirectory(prefix="caption-bench-") as tmp:
        folder = Path(tmp)
        utterances = make_utterances(folder)
        hub = NatsServer(NatsServerConfig(store_dir=folder / "hub", extra={"mappings": partitions.nats_mappings()})).start()
        log = folder / "services.log"
        services = [ServiceProcess(name, hub.url, log) for name in ("asr", "translation", "overlay")]
        client = await nats.connect(hub.url)
        try:
            for service in services:
                await service.ready()
            registry = await DeviceRegistry(client.jetstream()).open()
            five = [(utterances[i::5] + utterances[(i + 1) % 5 :: 5][:2], "es" if i % 2 == 0 else "zh") for i in range(5)]
            runs = {
                "1 device, en->es": await scenario(hub.url, registry, [(utterances, "es")]),
                "5 devices at once, en->es/zh": await scenario(hub.url, registry, five),
            }
        finally:
            await client.drain()
            for service in services:
                service.stop()
            hub.stop()
    return {"utterances": utterances, "runs": runs}


def run(report_dir: Path) -> dict:
    report_dir.mkdir(parents=True, exist_ok=True)
    result = asyncio.run(_main())
    runs, utterances = result["runs"], result["utterances"]
    lengths = [u.pcm.size / RATE for u in utterances]
    finals = {f"{name}: end of speech -> final caption": summarize(r["final_ms"]) for name, r in runs.items() if r["final_ms"]}
    partials = {
        f"{name}: speech start -> first caption": summarize(r["first_partial_ms"]) for name, r in runs.items() if r["first_partial_ms"]
    }
    curves = {f"{name} final caption": r["final_ms"] for name, r in runs.items() if r["final_ms"]}
    curves |= {f"{name} first caption": r["first_partial_ms"] for name, r in runs.items() if r["first_partial_ms"]}
    latency_plot(curves, report_dir / "caption_latency.png", "Captions on the glasses (CDF)")
    one = runs["1 device, en->es"]
    final_p50 = float(np.percentile(one["final_ms"], 50))
    partial_p50 = float(np.percentile(one["first_partial_ms"], 50))
    verdict = (
        f"One device: p50 end of speech -> final caption **{final_p50:.0f} ms** (floor {FLOOR_FINAL_P50_MS} ms: "
        f"{'met' if final_p50 <= FLOOR_FINAL_P50_MS else 'NOT met'}); p50 speech start -> first caption "
        f"**{partial_p50:.0f} ms** (floor {FLOOR_PARTIAL_P50_MS} ms: {'met' if partial_p50 <= FLOOR_PARTIAL_P50_MS else 'NOT met'})."
    )
    five = runs["5 devices at once, en->es/zh"]
    five_first_p95 = float(np.percentile(five["first_partial_ms"], 95))
    five_final_p95 = float(np.percentile(five["final_ms"], 95))

    def met(value: float, floor: float) -> str:
        return "met" if value <= floor else "NOT met"

    verdict += (
        f"\n\nIssue 8 floors: one device p50 end of speech -> final caption **{final_p50:.0f} ms** "
        f"(<= {FLOOR_FINAL_P50_MS_ONE} ms: {met(final_p50, FLOOR_FINAL_P50_MS_ONE)}); five devices at once p95 first caption "
        f"**{five_first_p95:.0f} ms** (<= {FLOOR_FIRST_P95_MS_FIVE} ms: {met(five_first_p95, FLOOR_FIRST_P95_MS_FIVE)}), "
        f"p95 final caption **{five_final_p95:.0f} ms** (<= {FLOOR_FINAL_P95_MS_FIVE} ms: {met(five_final_p95, FLOOR_FINAL_P95_MS_FIVE)})."
    )
    missed = ", ".join(f"{name}: {r['missed']} of {r['utterances']}" for name, r in runs.items())
    (report_dir / "caption_latency.md").write_text(
        f"# Live captions on the glasses\n\n{__doc__}\n"
        f"Machine: {os.cpu_count()} cores, shared with other engineers' work while this ran (timings are noisy). "
        f"{len(utterances)} utterances of {min(lengths):.1f}-{max(lengths):.1f} s "
        f"(median {np.median(lengths):.1f} s), 1.2 s apart.\n\n"
        f"{verdict}\n\n## End of speech -> final translated caption\n\n{table(finals)}\n\n"
        f"## Speech start -> first caption\n\n{table(partials)}\n\n"
        f"Utterances without a final caption: {missed}.\n\n![CDF](caption_latency.png)\n"
    )
    return {"final_caption_ms": finals, "first_caption_ms": partials, "missed": {n: r["missed"] for n, r in runs.items()}}


if __name__ == "__main__":
    print(run(Path(__file__).resolve().parent / "results"))

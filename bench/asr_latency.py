"""Streaming ASR latency and real-time factor, measured on the bus.

The asr service runs as its own process (`python -m sightline_asr`) against
a real nats-server with the audio partition mapping; simulated glasses in
this process speak espeak-ng utterances of 2-6 s into one continuous
microphone session at real-time pace, with 1.2 s pauses between them, and
timestamp every transcript as it arrives. For each utterance:

  first partial   speech onset (the frame that carries it leaves the glasses)
                  -> its first partial transcript on asr.partial.<device>
  final           end of speech (the frame with its last voiced sample)
                  -> its final transcript stored in JetStream and delivered

Runs: Moonshine with one device, Moonshine with 5 devices talking at once
(with the default two inference workers of one ONNX Runtime thread, and for
comparison in the same run one worker of one thread, the old default, and
one worker of two threads), PocketSphinx with one device. The real-time
factor is measured twice: the engine on each whole utterance in this process
(offline), and the service's own histogram of every inference it ran while
streaming (partials included). How each utterance ended (after a complete
sentence, the early hangover; else the plain pause) comes from the service's
sightline_asr_utterances_total.
"""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nats
import numpy as np
from sightline.v1.asr_pb2 import Transcript
from sightline_asr import testing
from sightline_asr.settings import AsrSettings
from sightline_glasses.agent import GlassesAgent
from sightline_runtime import partitions
from sightline_runtime.devices import DeviceRegistry
from sightline_runtime.natsserver import NatsServer, NatsServerConfig

from bench.processes import ServiceProcess
from bench.stats import latency_plot, summarize, table

RATE = testing.RATE
FRAME = 320  # 20 ms frames, as the glasses send
GAP_S = 1.2
LEAD_S = 0.5


@dataclass
class Utterance:
    text: str
    pcm: np.ndarray
    onset: float = 0.0  # seconds into the utterance where speech starts / ends
    end: float = 0.0


@dataclass
class Placed:
    utterance: Utterance
    offset: int  # first sample of the utterance in the device's stream


@dataclass
class DeviceRun:
    device: str
    placed: list[Placed]
    stream: np.ndarray
    started: float = 0.0  # monotonic time the first frame's clock started
    wall_started: float = 0.0  # the same moment on the wall clock (the asr's stream clock starts there)
    finals: list[tuple[float, Transcript]] = field(default_factory=list)
    partials: list[tuple[float, Transcript]] = field(default_factory=list)

    def published_at(self, sample: int) -> float:
        """When the frame carrying `sample` left the glasses (paced in real time)."""
        return self.started + ((sample // FRAME) + 1) * FRAME / RATE


def make_utterances(folder: Path) -> list[Utterance]:
    """36 utterances of 2-6 s: every sentence in two voices and speeds, and pairs of sentences."""
    testing.require("espeak-ng", "sox")
    specs = [(s, "en-us", 150) for s in testing.SENTENCES]
    specs += [(s, "en", 140) for s in testing.SENTENCES]
    pairs = zip(testing.SENTENCES, testing.SENTENCES[1:] + testing.SENTENCES[:1], strict=True)
    specs += [(f"{a} {b}", "en-us", 175) for a, b in pairs]
    utterances = []
    for i, (text, voice, wpm) in enumerate(specs):
        pcm = testing.speech_pcm(text, folder, f"u{i:02d}", voice=voice, words_per_minute=wpm)
        onset, end = testing.speech_bounds(pcm)
        pcm = pcm[int(onset * RATE) : int(end * RATE)]  # the pauses between utterances are the bench's own
        if 2.0 <= pcm.size / RATE <= 6.0:
            utterances.append(Utterance(text, pcm, *testing.speech_bounds(pcm)))
    return utterances


def lay_out(device: str, utterances: list[Utterance], lead_s: float = LEAD_S) -> DeviceRun:
    parts, placed, position = [testing.silence(lead_s)], [], int(lead_s * RATE)
    for u in utterances:
        placed.append(Placed(u, position))
        parts += [u.pcm, testing.silence(GAP_S)]
        position += u.pcm.size + int(GAP_S * RATE)
    return DeviceRun(device, placed, np.concatenate(parts))


async def speak_all(hub_url: str, runs: list[DeviceRun]) -> None:
    heard = {r.device: r for r in runs}
    client = await nats.connect(hub_url)

    async def on_transcript(msg) -> None:
        at = time.monotonic()
        t = Transcript.FromString(msg.data)
        run = heard.get(t.meta.device_id)
        if run is not None:
            (run.finals if t.is_final else run.partials).append((at, t))

    await client.subscribe("asr.partial.*", cb=on_transcript)
    await client.subscribe("asr.final.*", cb=on_transcript)
    await client.flush()
    agents = [await GlassesAgent.connect(r.device, hub_url) for r in runs]
    try:

        async def speak(agent: GlassesAgent, run: DeviceRun) -> None:
            uplink = agent.audio_uplink()
            run.started, run.wall_started = time.monotonic(), time.time()
            await uplink.send(run.stream, end_of_stream=True)

        await asyncio.gather(*(speak(a, r) for a, r in zip(agents, runs, strict=True)))
        await asyncio.sleep(3.0)
    finally:
        for agent in agents:
            await agent.close()
        await client.drain()


def measure(run: DeviceRun) -> tuple[list[float], list[float], list[str], int, int]:
    """(first partial ms, final ms, final texts in order, utterances missed, utterances split)."""
    partial_ms, final_ms, texts, missed, split = [], [], [], 0, 0
    for p in run.placed:
        onset = p.offset + int(p.utterance.onset * RATE)
        end = p.offset + int(p.utterance.end * RATE) - 1
        # The finals of an utterance are those whose speech started inside it (the asr's
        # stream clock starts with the first frame, as run.wall_started does, within ms).
        # A pause inside it may split it in two: then its caption is complete with the last.
        own = [
            (at, t)
            for at, t in run.finals
            if onset / RATE - GAP_S / 2 < t.speech_started_at.ToNanoseconds() / 1e9 - run.wall_started < end / RATE
        ]
        if not own:
            missed += 1
            continue
        split += len(own) > 1
        final_ms.append((max(at for at, _ in own) - run.published_at(end)) * 1000)
        texts.append(" ".join(t.text for _, t in own))
        partials = [a for a, t in run.partials if t.utterance_id == own[0][1].utterance_id]
        if partials:
            partial_ms.append((min(partials) - run.published_at(onset)) * 1000)
    return partial_ms, final_ms, texts, missed, split


class AsrProcess(ServiceProcess):
    def __init__(self, hub_url: str, engine: str, log: Path, **env: str) -> None:
        super().__init__("asr", hub_url, log, SIGHTLINE_ASR_ENGINE=engine, **env)

    def metrics(self) -> dict[str, float]:
        values: dict[str, float] = {}
        for line in self.metrics_text().splitlines():
            match = re.match(r"^(sightline_asr_\w+?)(\{[^}]*\})? ([0-9.e+-]+)$", line)
            if match:
                values[match.group(1) + (match.group(2) or "")] = float(match.group(3))
        return values


def service_rtf(metrics: dict[str, float]) -> float:
    total = sum(v for k, v in metrics.items() if k.startswith("sightline_asr_real_time_factor_sum"))
    count = sum(v for k, v in metrics.items() if k.startswith("sightline_asr_real_time_factor_count"))
    return total / count if count else float("nan")


async def scenario(
    hub: NatsServer, registry: DeviceRegistry, engine: str, device_sets: list[list[Utterance]], log: Path, **env: str
) -> dict:
    asr = AsrProcess(hub.url, engine, log, **env)
    try:
        await asr.ready()
        runs = []
        for i, utterances in enumerate(device_sets):
            name = f"bench-{engine}-{len(device_sets)}-{i}-{len(env)}"
            await registry.add(name)
            # Devices start 0.37 s apart so they do not talk in lockstep.
            runs.append(lay_out(name, utterances, lead_s=LEAD_S + 0.37 * i))
        await speak_all(hub.url, runs)
        metrics = asr.metrics()
    finally:
        asr.stop()
    partial_ms, final_ms, texts, refs, missed, split = [], [], [], [], 0, 0
    for r in runs:
        p, f, t, m, sp = measure(r)
        partial_ms += p
        final_ms += f
        texts += t
        refs += [pl.utterance.text for pl in r.placed if pl.utterance.text]
        missed += m
        split += sp
    return {
        "engine": engine,
        "devices": len(device_sets),
        "utterances": sum(len(d) for d in device_sets),
        "missed": missed,
        "split": split,
        "first_partial_ms": partial_ms,
        "final_ms": final_ms,
        "wer": testing.word_error_rate(refs, texts),
        "service_rtf": service_rtf(metrics),
        "partials": metrics.get('sightline_asr_transcripts_total{kind="partial"}', 0.0),
        "ended_by_sentence": metrics.get('sightline_asr_utterances_total{reason="sentence"}', 0.0),
        "finals": metrics.get('sightline_asr_transcripts_total{kind="final"}', 0.0),
    }


def offline_rtf(engine: str, utterances: list[Utterance]) -> float:
    from sightline_asr.engines import make_engine  # noqa: PLC0415

    model = make_engine(engine)
    model.load()
    spent = 0.0
    for u in utterances:
        started = time.perf_counter()
        model.transcribe(u.pcm)
        spent += time.perf_counter() - started
    return spent / (sum(u.pcm.size for u in utterances) / RATE)


async def _main(report_dir: Path) -> dict:
    with tempfile.TemporaryDirectory(prefix="asr-bench-") as tmp:
        folder = Path(tmp)
        utterances = make_utterances(folder)
        hub = NatsServer(NatsServerConfig(store_dir=folder / "hub", extra={"mappings": partitions.nats_mappings()})).start()
        client = await nats.connect(hub.url)
        try:
            registry = await DeviceRegistry(client.jetstream()).open()
            log = folder / "asr.log"  # the asr processes' output, for a failed run's traceback
            five = [utterances[i::5] + utterances[(i + 1) % 5 :: 5][:2] for i in range(5)]
            one_worker = {"SIGHTLINE_ASR_WORKERS": "1"}
            runs = {
                "moonshine, 1 device": await scenario(hub, registry, "moonshine", [utterances], log),
                "moonshine, 5 devices at once": await scenario(hub, registry, "moonshine", five, log),
                "moonshine, 5 devices at once, 1 worker x 1 thread": await scenario(hub, registry, "moonshine", five, log, **one_worker),
                "moonshine, 5 devices at once, 1 worker x 2 threads": await scenario(
                    hub, registry, "moonshine", five, log, **one_worker, SIGHTLINE_ASR_ENGINE_THREADS="2"
                ),
                "pocketsphinx, 1 device": await scenario(hub, registry, "pocketsphinx", [utterances], log),
            }
        finally:
            await client.drain()
            hub.stop()
        rtf = {engine: offline_rtf(engine, utterances) for engine in ("moonshine", "pocketsphinx")}
    return {"utterances": utterances, "runs": runs, "rtf": rtf}


def run(report_dir: Path) -> dict:
    report_dir.mkdir(parents=True, exist_ok=True)
    result = asyncio.run(_main(report_dir))
    runs, rtf, utterances = result["runs"], result["rtf"], result["utterances"]
    lengths = [u.pcm.size / RATE for u in utterances]
    finals = {f"{name}: end of speech -> final": summarize(r["final_ms"]) for name, r in runs.items() if r["final_ms"]}
    partials = {
        f"{name}: speech start -> first partial": summarize(r["first_partial_ms"]) for name, r in runs.items() if r["first_partial_ms"]
    }
    curves = {f"{name} final": r["final_ms"] for name, r in runs.items() if r["final_ms"]}
    curves |= {f"{name} first partial": r["first_partial_ms"] for name, r in runs.items() if r["first_partial_ms"]}
    latency_plot(
        curves,
        report_dir / "asr_latency.png",
        "asr: end of speech -> final, speech start -> first partial (on the bus)",
    )
    rows = "\n".join(
        f"| {name} | {r['utterances']} | {r['missed']} | {r['split']} | {r['wer']:.3f} | {r['service_rtf']:.3f} | {r['partials']:.0f} "
        f"| {r['finals']:.0f} | {r['ended_by_sentence']:.0f} |"
        for name, r in runs.items()
    )
    defaults = AsrSettings()
    report = (
        f"""# ASR latency and real-time factor

Machine: {os.cpu_count()} cores, shared with other engineers' work while this ran (timings are noisy).
Each run starts `python -m sightline_asr` ({defaults.asr_workers} inference workers of {defaults.asr_engine_threads} ONNX Runtime
thread unless the run says otherwise) against a real
nats-server with the audio partition mapping; simulated glasses speak {len(utterances)} espeak-ng utterances
of {min(lengths):.1f}-{max(lengths):.1f} s (median {np.median(lengths):.1f} s) at real-time pace, 1.2 s apart, in one
microphone session per device. Times are from the frame that carries the speech onset / the last voiced
sample leaving the glasses to the transcript arriving at a subscriber (when a pause inside an utterance
split it into two finals, to the last of them). The final is computed speculatively from
{defaults.asr_candidate_ms} ms into the pause; the silence that ends an utterance is {defaults.asr_early_hangover_ms} ms after a
complete sentence, {defaults.asr_late_hangover_ms} ms after unfinished text, else {defaults.asr_hangover_ms} ms (docs/asr.md).

## End of speech -> final transcript

{table(finals)}

## Speech start -> first partial

{table(partials)}

## Per run

| run | utterances | missed | split in two | WER (streaming) | mean RTF of inferences | partials | finals | ended by a sentence |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
{rows}

## Real-time factor per engine (each whole utterance, offline, 1 thread)

| engine | RTF |
| --- | --- |
"""
        + "\n".join(f"| {engine} | {value:.3f} |" for engine, value in rtf.items())
        + """

![latency CDF](asr_latency.png)
"""
    )
    (report_dir / "asr_latency.md").write_text(report)
    return {
        "final_ms": {k: v for k, v in finals.items()},
        "first_partial_ms": {k: v for k, v in partials.items()},
        "wer": {name: r["wer"] for name, r in runs.items()},
        "missed": {name: r["missed"] for name, r in runs.items()},
        "service_rtf": {name: r["service_rtf"] for name, r in runs.items()},
        "offline_rtf": rtf,
    }


if __name__ == "__main__":
    print(run(Path(__file__).resolve().parent / "results"))

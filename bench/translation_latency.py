"""Translation latency: what each engine costs per caption, end to end on
the bus, and what a storm of partial transcripts costs.

  engine calls    one caption-length sentence per call, straight to the engine:
                  apertium (the service's long-lived null-flush pipeline),
                  apertium spawned per call (the design we did not take),
                  cedict zh->en and en->zh, and the openai-compatible adapter
                  against a real small model served on this machine
                  (SmolLM2-135M-Instruct Q4_1 on llama.cpp's server, one
                  thread; up to 64 new tokens a caption): what a local LLM
                  costs on this hardware, not a datacenter model's latency
  bus             Transcript final published -> Translation final received,
                  through a running translation service and a real nats-server
  partial storm   one utterance's 100 partials at once: every one translated
                  (no cache, no coalescing), the same storm again with the
                  cache, and the service's latest-wins policy; then another
                  device's final latency while 5 devices storm
"""

from __future__ import annotations

import asyncio
import subprocess
import tempfile
import time
from pathlib import Path

from bench.stats import latency_plot, summarize, table

EN = [
    "Where is the train station?",
    "I would like a coffee with milk, please.",
    "Good morning, how are you today?",
    "The museum opens at nine o'clock.",
    "Can you help me find my hotel?",
    "How much does this ticket cost?",
    "My friend is waiting at the airport.",
    "We want to eat dinner in a small restaurant.",
    "The water is very cold.",
    "Thank you very much for your help.",
    "The next bus leaves in ten minutes.",
    "Is there a pharmacy near here?",
]
ZH = [
    "火车站在哪里？",
    "我要一杯咖啡。",
    "出口在左边。",
    "请勿吸烟",
    "牛肉面多少钱？",
    "洗手间在二楼",
    "今天天气很好",
    "欢迎光临",
    "免费无线网络",
    "地铁站",
]
N_ENGINE = 300
N_LLM = 40  # a real model: ~0.5-1 s a call
N_SPAWN = 25
N_BUS = 60
STORM = 100


def _spawn_per_call() -> list[float]:
    """`apertium eng-spa` started for every sentence: the cost the service avoids."""
    values = []
    for i in range(N_SPAWN):
        t0 = time.perf_counter()
        subprocess.run(["apertium", "-u", "eng-spa"], input=EN[i % len(EN)].encode(), capture_output=True, check=True)
        values.append((time.perf_counter() - t0) * 1000)
    return values


async def _engine_calls() -> dict[str, list[float]]:
    from sightline_runtime.llm_server import LlmServer  # noqa: PLC0415
    from sightline_translation.engines.apertium import ApertiumEngine  # noqa: PLC0415
    from sightline_translation.engines.cedict import EN_ZH, ZH_EN, CedictEngine  # noqa: PLC0415
    from sightline_translation.engines.openai_compatible import OpenAICompatibleEngine  # noqa: PLC0415
    from sightline_translation.languages import Pair  # noqa: PLC0415

    # Engines are measured bare: no router, cache or glossary in the way.
    samples: dict[str, list[float]] = {}

    async def measure(name, engine, texts, pair, n):
        values = []
        for i in range(n):
            t0 = time.perf_counter()
            await engine.translate([texts[i % len(texts)]], pair)
            values.append((time.perf_counter() - t0) * 1000)
        samples[name] = values

    apertium = ApertiumEngine({Pair("en", "es"): "eng-spa"}, data_dir=Path("/usr/share/apertium"))
    await apertium.start()
    await measure("apertium en-es (pipeline)", apertium, EN, Pair("en", "es"), N_ENGINE)
    await apertium.close()

    cedict = CedictEngine()
    await cedict.start()
    await measure("cedict zh-en", cedict, ZH, ZH_EN, N_ENGINE)
    await measure("cedict en-zh", cedict, EN, EN_ZH, N_ENGINE)

    with LlmServer.smollm2() as server:
        print(f"llama.cpp server with {server.model} answered /v1/models {server.started_in_s:.2f} s after start")
        llm = OpenAICompatibleEngine([ZH_EN], url=server.base_url, model=server.model, timeout_s=60.0)
        await llm.start()
        await measure(f"openai-compatible ({server.model}, llama.cpp)", llm, ZH, ZH_EN, N_LLM)
        await llm.close()
    return samples


async def _start_service(url: str, **settings):
    import nats  # noqa: PLC0415
    from sightline_cli.stack import SERVICES  # noqa: PLC0415
    from sightline_runtime.processes import free_port  # noqa: PLC0415
    from sightline_runtime.streams import ensure_streams  # noqa: PLC0415
    from sightline_runtime.surface import deployment_streams, load_surfaces  # noqa: PLC0415
    from sightline_translation.app import create_service  # noqa: PLC0415
    from sightline_translation.settings import TranslationSettings  # noqa: PLC0415

    # Each stream is created by the service that owns it; translation only
    # consumes asr's. Create them all, as a deployment has them.
    nc = await nats.connect(url)
    await ensure_streams(nc.jetstream(), deployment_streams(load_surfaces(SERVICES)))
    await nc.drain()
    config = TranslationSettings(nats_url=url, http_port=free_port(), http_host="127.0.0.1", log_level="WARNING", **settings)
    service = create_service(config)
    task = asyncio.create_task(service.serve())
    while not service.started:
        if task.done():
            raise RuntimeError("translation service did not start")
        await asyncio.sleep(0.05)
    return service, task


async def _bus(url: str) -> dict[str, list[float]]:
    import nats  # noqa: PLC0415
    from sightline_runtime.devices import DeviceRegistry  # noqa: PLC0415
    from sightline_translation.testing import TranslationTap, publish_transcript, transcript  # noqa: PLC0415

    service, task = await _start_service(url)
    nc = await nats.connect(url)
    samples: dict[str, list[float]] = {}
    try:
        await DeviceRegistry(nc.jetstream()).add("bench")
        async with TranslationTap(nc, "bench") as tap:
            flows = (("bus en-es final (apertium)", EN, "en", "es"), ("bus zh-en final (cedict)", ZH, "zh", "en"))
            for name, texts, language, target in flows:
                values = []
                for i in range(N_BUS):
                    # A number makes every text new: the cache must not answer.
                    text = f"{texts[i % len(texts)]} {i}"
                    event = transcript("bench", text, utterance_id=f"{language}-{i}", final=True, language=language, target_language=target)
                    t0 = time.perf_counter()
                    await publish_transcript(nc, event)
                    await tap.final()
                    values.append((time.perf_counter() - t0) * 1000)
                samples[name] = values
    finally:
        await nc.drain()
        service.stop()
        await task
    return samples


async def _storm_in_process() -> dict[str, dict[str, float]]:
    """Engine calls and time to the newest partial's translation for one storm."""
    from prometheus_client import CollectorRegistry  # noqa: PLC0415
    from sightline_translation.engines import Lane  # noqa: PLC0415
    from sightline_translation.languages import Pair  # noqa: PLC0415
    from sightline_translation.metrics import TranslationMetrics  # noqa: PLC0415
    from sightline_translation.partials import PartialCoalescer  # noqa: PLC0415
    from sightline_translation.routing import build_router  # noqa: PLC0415
    from sightline_translation.settings import TranslationSettings  # noqa: PLC0415

    words = ("where is the train station and how much is a ticket to the airport " * 8).split()[:STORM]
    partials = [" ".join(words[: n + 1]) for n in range(STORM)]
    pair = Pair("en", "es")
    results: dict[str, dict[str, float]] = {}

    async def with_router(cache_size: int, run):
        metrics = TranslationMetrics(CollectorRegistry())
        router = build_router(TranslationSettings(translation_routes="en-es=apertium", translation_cache_size=cache_size), metrics)
        await router.start()
        try:
            return await run(router, metrics)
        finally:
            await router.close()

    async def every_partial(router, metrics):
        rounds = []
        for _ in range(2):
            t0 = time.perf_counter()
            for text in partials:
                await router.translate([text], pair, lane=Lane.PARTIAL, kind="partial")
            rounds.append((time.perf_counter() - t0) * 1000)
        misses = metrics.registry.get_sample_value("sightline_translation_cache_total", {"result": "miss"}) or 0
        return rounds, misses

    rounds, _ = await with_router(0, every_partial)
    results["every partial, no cache"] = {"engine_calls": STORM, "ms_to_newest": rounds[0]}
    rounds, misses = await with_router(10_000, every_partial)
    # The second round of the same storm: only cache misses reach the engine.
    results["every partial, cache (same storm again)"] = {"engine_calls": misses - STORM, "ms_to_newest": rounds[1]}

    async def coalesced(router, metrics):
        done = asyncio.Event()
        finished_at: list[float] = []

        async def run(key, text):
            await router.translate([text], pair, lane=Lane.PARTIAL, kind="partial")
            if text == partials[-1]:
                finished_at.append(time.perf_counter())
                done.set()

        coalescer = PartialCoalescer(run, min_interval_s=0.2)
        t0 = time.perf_counter()
        for revision, text in enumerate(partials, 1):
            coalescer.submit(("bench", "u1"), revision, text)
        await asyncio.wait_for(done.wait(), 10)
        return coalescer.engine_calls, (finished_at[0] - t0) * 1000

    calls, ms = await with_router(0, coalesced)
    results["latest-wins (service policy)"] = {"engine_calls": calls, "ms_to_newest": ms}
    return results


async def _final_during_storms(url: str) -> dict[str, list[float]]:
    import nats  # noqa: PLC0415
    from sightline_runtime.devices import DeviceRegistry  # noqa: PLC0415
    from sightline_translation.testing import TranslationTap, publish_transcript, transcript  # noqa: PLC0415

    service, task = await _start_service(url)
    nc = await nats.connect(url)
    samples: dict[str, list[float]] = {"final, quiet bus": [], "final, 5 devices storming partials": []}
    try:
        registry = DeviceRegistry(nc.jetstream())
        for device in ("reader", *(f"storm{d}" for d in range(5))):
            await registry.add(device, target_language="es")
        async with TranslationTap(nc, "reader") as tap:
            for storming in (False, True):
                name = "final, 5 devices storming partials" if storming else "final, quiet bus"
                for i in range(30):
                    if storming:
                        for d in range(5):
                            for n in range(20):
                                text = f"storm {i} word " + "x " * n
                                await publish_transcript(nc, transcript(f"storm{d}", text, utterance_id=f"s{i}", revision=n + 1))
                    event = transcript("reader", f"{EN[i % len(EN)]} {i}{storming}", utterance_id=f"r{i}{storming}", final=True)
                    t0 = time.perf_counter()
                    await publish_transcript(nc, event)
                    await tap.final()
                    samples[name].append((time.perf_counter() - t0) * 1000)
    finally:
        await nc.drain()
        service.stop()
        await task
    return samples


def _storm_plot(storms: dict[str, dict[str, float]], path: Path) -> None:
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    names = list(storms)
    fig, (calls_ax, ms_ax) = plt.subplots(1, 2, figsize=(10, 3.8))
    calls_ax.barh(names, [storms[n]["engine_calls"] for n in names], color="#4c72b0")
    calls_ax.set_xlabel(f"engine calls for {STORM} partials")
    ms_ax.barh(names, [storms[n]["ms_to_newest"] for n in names], color="#dd8452")
    ms_ax.set_xlabel("ms until the newest partial is translated")
    ms_ax.set_yticks([])
    fig.suptitle("A storm of partial transcripts (Apertium en-es)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run(report_dir: Path) -> dict:
    from sightline_runtime.natsserver import NatsServer, NatsServerConfig  # noqa: PLC0415

    engines = asyncio.run(_engine_calls())
    engines["apertium en-es (spawn per call)"] = _spawn_per_call()
    storms = asyncio.run(_storm_in_process())
    with tempfile.TemporaryDirectory() as tmp, NatsServer(NatsServerConfig(store_dir=Path(tmp), name="bench")) as server:
        bus = asyncio.run(_bus(server.url))
        during = asyncio.run(_final_during_storms(server.url))
    engine_stats = {name: summarize(values) for name, values in engines.items()}
    bus_stats = {name: summarize(values) for name, values in (bus | during).items()}
    latency_plot(engines | bus, report_dir / "translation_latency.png", "Translation latency per engine and on the bus (CDF)")
    _storm_plot(storms, report_dir / "translation_partials.png")
    storm_rows = "\n".join(f"| {name} | {s['engine_calls']:.0f} | {s['ms_to_newest']:.1f} |" for name, s in storms.items())
    (report_dir / "translation_latency.md").write_text(
        "# Translation latency\n\n"
        f"{__doc__}\n"
        "## Engine calls (one caption-length sentence)\n\n"
        f"{table(engine_stats)}\n\n"
        "## On the bus, and finals during partial storms\n\n"
        f"{table(bus_stats)}\n\n"
        f"## A storm of {STORM} partials of one utterance (in process, Apertium en-es)\n\n"
        "| policy | engine calls | ms until the newest partial is translated |\n| --- | --- | --- |\n"
        f"{storm_rows}\n\n"
        "![CDF](translation_latency.png)\n\n![partials](translation_partials.png)\n"
    )
    return {"engines": engine_stats, "bus": bus_stats, "partial_storm": storms}

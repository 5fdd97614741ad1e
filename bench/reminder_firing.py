"""Reminders fire on time: how far from its due time a reminder reaches the HUD.

A real nats-server, the assistant and overlay services, each as its own
process, as deployed (as in bench/caption_latency.py), and simulated glasses
in this process that timestamp every display update they accept. 60 reminders
are set through the assistant as the wearer sets them: final transcripts
"Hey Sightline, remind me in N seconds to ..." (N from 20 to 89) published
on asr.final.<device> in the ASR stream, as the asr publishes them, all at
once; each becomes a JetStream scheduled message (Nats-Schedule: @at) in
ASSISTANT_TIMERS. Each reminder's due time is the one the assistant
scheduled (the Reminder on assistant.timer.<device>.<id>). Firing error, per
reminder (positive = late):

  server firing   the Reminder the server publishes on assistant.due.<device>
                  arrives here, minus its due time
  reply           the assistant's reminder reply on assistant.reply.<device>
                  arrives here, minus the due time
  HUD             the reminder card (DisplayUpdate) arrives at the glasses,
                  minus the due time

Floor, in the same run and at the same time: 60 raw JetStream message
schedules (`Nats-Schedule: @at <time>` in a stream of their own with
allow_msg_schedules, no assistant) due at interleaved times over the same
span; each firing's arrival here (an ordered consumer on its target
subject, as the assistant's durable consumer reads its firings), minus its
@at time. For both, "stored" is the firing's own timestamp in the stream
(the moment the server published it), which separates the server's timer
from delivery.
Due times carry milliseconds (the @at form), so errors under 1 ms mean nothing.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nats
import numpy as np
from google.protobuf.timestamp_pb2 import Timestamp
from sightline.v1.asr_pb2 import Transcript
from sightline.v1.assistant_pb2 import AssistantReply, Reminder, ReplyKind
from sightline.v1.display_pb2 import DisplayUpdate, HudRegion
from sightline_assistant.domain.reminders import rfc3339_ms
from sightline_assistant.timers import SCHEDULE_HEADER, SCHEDULE_TARGET_HEADER
from sightline_cli.stack import SERVICES
from sightline_glasses.agent import GlassesAgent
from sightline_runtime import subjects
from sightline_runtime.devices import DeviceRegistry
from sightline_runtime.events import event_headers, new_meta
from sightline_runtime.natsserver import NatsServer, NatsServerConfig
from sightline_runtime.streams import StreamSpec, ensure_stream, ensure_streams
from sightline_runtime.surface import deployment_streams, load_surfaces

from bench.processes import ServiceProcess
from bench.stats import summarize, table

N = 60
FIRST_S, LAST_S = 20, 89  # "in N seconds": the grammar takes one or two digits
DEVICE = "reminder-bench"
TASKS = ("drink some water", "stretch your legs", "check the oven", "call my mother", "water the plants", "take the pills")
FLOOR = StreamSpec(
    name="BENCH_SCHEDULES",
    subjects=("bench.schedule.*", "bench.fired.*"),
    description="reminder_firing's floor: raw message schedules",
    max_age_s=3600.0,
    allow_msg_schedules=True,
)


@dataclass
class Seen:
    """Wall-clock arrival times (time.time()) of everything that passed."""

    scheduled: dict[str, float] = field(default_factory=dict)  # reminder id -> due (epoch s)
    fired: dict[str, float] = field(default_factory=dict)  # reminder id -> server firing arrival
    fired_stored: dict[str, float] = field(default_factory=dict)  # reminder id -> the firing's time in the stream
    replies: dict[str, tuple[float, str]] = field(default_factory=dict)  # reminder id -> (arrival, reply event id)
    cards: dict[str, float] = field(default_factory=dict)  # reply event id -> card arrival at the glasses
    floor_due: dict[str, float] = field(default_factory=dict)
    floor_fired: dict[str, float] = field(default_factory=dict)
    floor_stored: dict[str, float] = field(default_factory=dict)


def _due(reminder: Reminder) -> float:
    return reminder.due_at.ToNanoseconds() / 1e9


def _final(index: int, seconds: int) -> Transcript:
    now = Timestamp()
    now.FromDatetime(datetime.now(UTC))
    transcript = Transcript(
        meta=new_meta(DEVICE, "asr"),
        utterance_id=f"r{index:03d}",
        revision=1,
        is_final=True,
        text=f"Hey Sightline, remind me in {seconds} seconds to {TASKS[index % len(TASKS)]}.",
        language="en",
        confidence=0.9,
        engine="bench-published",
        stream_id="reminder-bench",
    )
    transcript.speech_started_at.CopyFrom(now)
    transcript.speech_ended_at.CopyFrom(now)
    return transcript


async def set_and_watch(hub_url: str) -> tuple[Seen, int]:
    seen = Seen()
    client = await nats.connect(hub_url)
    js = client.jetstream()
    await ensure_stream(js, FLOOR)

    async def on_scheduled(msg) -> None:
        reminder = Reminder.FromString(msg.data)
        seen.scheduled[reminder.reminder_id] = _due(reminder)

    async def on_fired(msg) -> None:
        at = time.time()
        reminder_id = Reminder.FromString(msg.data).reminder_id
        seen.fired.setdefault(reminder_id, at)
        seen.fired_stored.setdefault(reminder_id, msg.metadata.timestamp.timestamp())

    async def on_reply(msg) -> None:
        at = time.time()
        reply = AssistantReply.FromString(msg.data)
        if reply.kind == ReplyKind.REPLY_KIND_REMINDER:
            seen.replies.setdefault(reply.reference_id, (at, reply.meta.event_id))

    async def on_floor(msg) -> None:
        at = time.time()
        key = msg.subject.rsplit(".", 1)[1]
        seen.floor_fired.setdefault(key, at)
        seen.floor_stored.setdefault(key, msg.metadata.timestamp.timestamp())

    await client.subscribe(f"assistant.timer.{DEVICE}.*", cb=on_scheduled)
    await client.subscribe(f"assistant.reply.{DEVICE}", cb=on_reply)
    # The server writes a firing into the stream itself (no core publish): read it as a consumer does.
    await js.subscribe(f"assistant.due.{DEVICE}", stream="ASSISTANT_TIMERS", cb=on_fired, ordered_consumer=True)
    await js.subscribe("bench.fired.*", stream=FLOOR.name, cb=on_floor, ordered_consumer=True)
    await client.flush()
    agent = await GlassesAgent.connect(DEVICE, hub_url)

    def shown(update: DisplayUpdate) -> None:
        if update.region == HudRegion.HUD_REGION_CARD and update.HasField("card"):
            seen.cards.setdefault(update.meta.causation_id, time.time())

    agent.display_listeners.append(shown)
    try:
        offsets = np.linspace(FIRST_S, LAST_S, N).round().astype(int)
        finals = [_final(i, int(s)) for i, s in enumerate(offsets)]
        for transcript in finals:
            await js.publish(
                subjects.domain("asr", "final", DEVICE), transcript.SerializeToString(), headers=event_headers(transcript), stream="ASR"
            )
        # The floor: due between the reminders, over the same span.
        start = datetime.now(UTC)
        for i, offset in enumerate(np.linspace(FIRST_S + 0.5, LAST_S + 0.5, N)):
            due = start + timedelta(seconds=float(offset))
            at = rfc3339_ms(due)
            seen.floor_due[f"f{i:03d}"] = datetime.fromisoformat(at).timestamp()
            headers = {SCHEDULE_HEADER: f"@at {at}", SCHEDULE_TARGET_HEADER: f"bench.fired.f{i:03d}"}
            await js.publish(f"bench.schedule.f{i:03d}", at.encode(), headers=headers, stream=FLOOR.name)
        deadline = time.monotonic() + LAST_S + 20
        while time.monotonic() < deadline:
            done = len(seen.scheduled) >= N and all(r in seen.replies for r in seen.scheduled)
            cards = all(seen.replies[r][1] in seen.cards for r in seen.scheduled if r in seen.replies)
            if done and cards and len(seen.floor_fired) >= N:
                break
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)
    finally:
        await agent.close()
        await client.drain()
    return seen, len(finals)


async def _main() -> tuple[Seen, int]:
    with tempfile.TemporaryDirectory(prefix="reminder-bench-") as tmp:
        folder = Path(tmp)
        hub = NatsServer(NatsServerConfig(store_dir=folder / "hub")).start()
        log = folder / "services.log"
        client = await nats.connect(hub.url)
        services = []
        try:
            # The ASR stream is the asr's; it is not running here (the finals are published as it publishes them).
            await ensure_streams(client.jetstream(), deployment_streams(load_surfaces(SERVICES)))
            await (await DeviceRegistry(client.jetstream()).open()).add(DEVICE)
            services = [
                ServiceProcess("assistant", hub.url, log, SIGHTLINE_ASSISTANT_DATA_DIR=str(folder / "assistant")),
                ServiceProcess("overlay", hub.url, log),
            ]
            for service in services:
                await service.ready()
            return await set_and_watch(hub.url)
        finally:
            await client.drain()
            for service in services:
                service.stop()
            hub.stop()


def _errors_ms(due: dict[str, float], arrived: dict[str, float]) -> list[float]:
    return [(arrived[key] - due[key]) * 1000 for key in due if key in arrived]


def _plot(series: dict[str, list[float]], path: Path) -> None:
    import matplotlib  # noqa: PLC0415 - only benchmarks need it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for name, values in series.items():
        ordered = np.sort(np.asarray(values, dtype=float))
        ax.plot(ordered, np.linspace(0, 100, ordered.size), label=name)
    ax.axvline(0, color="grey", linewidth=0.8)
    ax.set_xlabel("firing error (ms, arrival minus due time; positive = late)")
    ax.set_ylabel("percentile")
    ax.set_title("Reminders: firing error (CDF)")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run(report_dir: Path) -> dict:
    report_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    seen, set_count = asyncio.run(_main())
    took_s = time.monotonic() - started
    replies = {rid: at for rid, (at, _) in seen.replies.items()}
    cards = {rid: seen.cards[event_id] for rid, (_, event_id) in seen.replies.items() if event_id in seen.cards}
    series = {
        "raw message schedule (floor): stored in the stream": _errors_ms(seen.floor_due, seen.floor_stored),
        "raw message schedule (floor): delivered here": _errors_ms(seen.floor_due, seen.floor_fired),
        "reminder: server's firing stored in ASSISTANT_TIMERS": _errors_ms(seen.scheduled, seen.fired_stored),
        "reminder: server's firing delivered here": _errors_ms(seen.scheduled, seen.fired),
        "reminder: assistant's reply on the bus": _errors_ms(seen.scheduled, replies),
        "reminder: card at the glasses (HUD)": _errors_ms(seen.scheduled, cards),
    }
    stats = {name: summarize(values) for name, values in series.items() if values}
    _plot({name: values for name, values in series.items() if values}, report_dir / "reminder_firing.png")
    hud = stats.get("reminder: card at the glasses (HUD)")
    floor = stats.get("raw message schedule (floor): delivered here")
    verdict = (
        f"Reminder card on the HUD: median **{hud['p50']:.0f} ms** late, p95 {hud['p95']:.0f} ms, p99 {hud['p99']:.0f} ms, "
        f"max {hud['max']:.0f} ms; raw message schedules delivered (the floor) median **{floor['p50']:.0f} ms**, "
        f"p95 {floor['p95']:.0f} ms, max {floor['max']:.0f} ms."
        if hud and floor
        else "No reminder reached the HUD."
    )
    early = sum(v < 0 for v in series["reminder: card at the glasses (HUD)"])
    counts = (
        f"Reminders asked for: {set_count}; scheduled: {len(seen.scheduled)}; fired by the server: "
        f"{len(seen.fired)}; replies: {len(replies)}; cards at the glasses: {len(cards)}; cards before their due time: {early}. "
        f"Floor schedules: {len(seen.floor_due)}, delivered: {len(seen.floor_fired)}."
    )
    (report_dir / "reminder_firing.md").write_text(
        f"# Reminders: firing on time\n\n{__doc__}\n"
        f"Machine: {os.cpu_count()} cores, shared with other engineers' test runs while this ran: the figures are noisy "
        f"and should be re-measured on a quiet machine. The whole run took {took_s:.0f} s.\n\n"
        f"{verdict}\n\n## Firing error (arrival minus due time)\n\n{table(stats)}\n\n{counts}\n\n![CDF](reminder_firing.png)\n"
    )
    return {
        "firing_error_ms": stats,
        "set": set_count,
        "scheduled": len(seen.scheduled),
        "fired": len(seen.fired),
        "cards": len(cards),
        "floor_delivered": len(seen.floor_fired),
    }


if __name__ == "__main__":
    print(run(Path(__file__).resolve().parent / "results"))

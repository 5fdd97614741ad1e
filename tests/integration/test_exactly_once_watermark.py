"""Exactly-once with the per-device watermark (sightline_runtime.inbox) under
the leased pull loop (sightline_runtime.pull), against a real nats-server.

Each "replica" here is what a service instance runs for one dedup handler:
its own connection, device registry mirror, inbox, EventGuard and a
PullConsumer holding the inbox's ConsumerLease. Effects are counted by the
handler when it *completes*; exactly-once means every published event
completes once, whatever is redelivered, copied late, crashed or restarted.
"""

from __future__ import annotations

import asyncio
import collections
import time

import nats
import pytest
from faststream.nats import NatsBroker
from sightline.v1.input_pb2 import DeviceInput, TextInput
from sightline_runtime import streams
from sightline_runtime.consumer import EventGuard, HandlerSpec
from sightline_runtime.devices import DeviceRegistry
from sightline_runtime.events import HEADER_MSG_ID, event_headers, new_meta
from sightline_runtime.inbox import Inbox
from sightline_runtime.metrics import ServiceMetrics
from sightline_runtime.publisher import EventPublisher
from sightline_runtime.pull import PullConsumer, defer_ack
from sightline_runtime.settings import ServiceSettings

SERVICE = "oncecheck"
CONSUMER = streams.ConsumerSpec(durable="oncecheck-inputs", filter_subject="glasses.*.up.input")
SPEC = HandlerSpec("inputs", DeviceInput, consumer=CONSUMER, dedup=True)
ACK_WAIT_S = 2.0
LEASE_S = 1.5


async def _until(predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


class Effects:
    """What handlers completed, by event id, across replicas."""

    def __init__(self) -> None:
        self.completed: collections.Counter[str] = collections.Counter()
        self.started: collections.Counter[str] = collections.Counter()
        # event id -> awaitable the handler waits on before its effect (a crash point).
        self.block_before: dict[str, asyncio.Future] = {}
        # event id -> awaitable the ack waits on after the effect (the other crash point).
        self.hold_ack: dict[str, asyncio.Future] = {}

    async def handler(self, event: DeviceInput, ctx) -> None:
        self.started[ctx.event_id] += 1
        if ctx.event_id in self.block_before:
            await self.block_before[ctx.event_id]
        self.completed[ctx.event_id] += 1
        if ctx.event_id in self.hold_ack:
            assert defer_ack(self.hold_ack[ctx.event_id])


class Replica:
    def __init__(self, url: str, name: str, effects: Effects) -> None:
        self.url = url
        self.name = name
        self.effects = effects
        self.settings = ServiceSettings(nats_url=url, ack_wait_s=ACK_WAIT_S, max_deliver=5, log_level="WARNING", instance=name)

    async def start(self) -> Replica:
        self.broker = NatsBroker(self.url)
        await self.broker.connect()
        js = self.broker._connection.jetstream()
        self.registry = DeviceRegistry(js)
        await self.registry.start()
        self.inbox = await Inbox.open(js, SERVICE, ttl_s=3600, lease_s=ACK_WAIT_S, instance=self.name)
        metrics = ServiceMetrics(SERVICE)
        self.guard = EventGuard(
            SERVICE,
            publisher=EventPublisher(self.broker, SERVICE, metrics),
            metrics=metrics,
            directory=self.registry,
            limits=self.settings,
            inbox=self.inbox,
        )
        self.lease = self.inbox.lease(SPEC.name, lease_s=LEASE_S)
        self.consumer = PullConsumer(
            js,
            streams.GLASSES_UP.name,
            CONSUMER.config(ack_wait_s=ACK_WAIT_S, max_deliver=5),
            lambda pulled: self.guard.handle(SPEC, self.effects.handler, pulled),
            lease=self.lease,
        )
        await self.consumer.start()
        return self

    def handled(self, outcome: str) -> float:
        labels = {"service": SERVICE, "handler": SPEC.name, "outcome": outcome}
        return self.guard.metrics.registry.get_sample_value("sightline_events_handled_total", labels) or 0.0

    async def stop(self) -> None:
        """A graceful stop: in-flight work finishes, acks flush, the lease is given back."""
        await self.consumer.stop()
        await self.inbox.close()
        await self.registry.stop()
        await self.broker.stop()

    async def crash(self) -> None:
        """The process dies: no more renewals, no acks, no release; the connection drops."""
        self.lease._task.cancel()
        for task in self.consumer._tasks:
            task.cancel()
        await self.broker._connection.close()


@pytest.fixture
async def js(nats_url):
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await streams.ensure_streams(js, [streams.GLASSES_UP])
    await DeviceRegistry(js).add("a")
    await DeviceRegistry(js).add("b")
    yield js
    await nc.close()


def _event(device: str, *, seq: int | None = None, text: str = "hi") -> DeviceInput:
    meta = new_meta(device, "glasses", seq=seq if seq is not None else time.time_ns() // 1000)
    return DeviceInput(meta=meta, text=TextInput(text=text))


async def _publish(js, event: DeviceInput, *, msg_id: str | None = None) -> None:
    """Store an event; with msg_id, as a copy JetStream no longer dedups (past
    its 2-minute window, or re-sent by an edge): a new stream sequence, same event."""
    headers = event_headers(event)
    if msg_id:
        headers[HEADER_MSG_ID] = msg_id
    ack = await js.publish(f"glasses.{event.meta.device_id}.up.input", event.SerializeToString(), headers=headers, stream="GLASSES_UP")
    assert not ack.duplicate


async def _settled(js) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        info = await js.consumer_info("GLASSES_UP", CONSUMER.durable)
        if info.num_pending == 0 and info.num_ack_pending == 0:
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"consumer never settled: {info.num_pending} pending, {info.num_ack_pending} unacknowledged")


async def test_events_in_sequence_run_once_with_no_kv_round_trip_after_the_first(js, nats_url):
    effects = Effects()
    replica = await Replica(nats_url, "r1", effects).start()
    try:
        events = [_event("a", seq=1000 + i) for i in range(20)]
        for event in events:
            await _publish(js, event)
        await _until(lambda: len(effects.completed) == 20, 10, "20 events")
        await _settled(js)
        decisions = replica.inbox.decisions
        assert decisions["kv"] == 1, "only the device's first event (no watermark yet) took the claim protocol"
        assert decisions["watermark"] == 19
        assert decisions["watermark_loads"] == 1, "the watermark was read once for the device"
        for event in events:
            assert await replica.inbox.seen(SPEC.name, event.meta.event_id), "every event has its done mark in KV"
        entry = await replica.inbox._kv.get(Inbox.watermark_key(SPEC.name, "a"))
        assert b'"seq": 1019' in entry.value

        # Copies of handled events, stored anew: recognised from memory, acked, not run.
        await _publish(js, events[3], msg_id="copy-3")
        await _publish(js, events[19], msg_id="copy-19")
        await _until(lambda: replica.handled("duplicate") == 2, 10, "two duplicates")
        await _settled(js)
        assert set(effects.completed.values()) == {1}
    finally:
        await replica.stop()


async def test_a_late_copy_is_recognised_after_a_restart_and_new_events_still_run(js, nats_url):
    effects = Effects()
    first = await Replica(nats_url, "r1", effects).start()
    events = [_event("a", seq=2000 + i) for i in range(3)]
    for event in events:
        await _publish(js, event)
    await _until(lambda: len(effects.completed) == 3, 10, "3 events")
    await _settled(js)
    await first.stop()

    restarted = await Replica(nats_url, "r1-restarted", effects).start()
    try:
        await _publish(js, events[0], msg_id="late-0")
        await _publish(js, events[2], msg_id="late-2")
        fresh = _event("a", seq=2003)
        await _publish(js, fresh)
        await _until(lambda: fresh.meta.event_id in effects.completed, 10, "the new event")
        await _until(lambda: restarted.handled("duplicate") == 2, 10, "both late copies counted as duplicates")
        await _settled(js)
        assert effects.completed == {e.meta.event_id: 1 for e in [*events, fresh]}
        assert restarted.inbox.decisions["watermark_loads"] == 1, "the new holder read the watermark from KV"
        assert restarted.inbox.decisions["watermark"] == 1, "the new event above it needed no KV claim"
    finally:
        await restarted.stop()


async def test_an_event_behind_the_watermark_or_without_a_sequence_is_handled_not_dropped(js, nats_url):
    effects = Effects()
    replica = await Replica(nats_url, "r1", effects).start()
    try:
        ahead = _event("b", seq=5000)
        await _publish(js, ahead)
        await _publish(js, _event("b", seq=5001))
        # A second producer for the same device whose clock runs behind: a new event, lower sequence.
        behind = _event("b", seq=10)
        unordered = _event("b", seq=0)
        await _publish(js, behind)
        await _publish(js, unordered)
        await _until(lambda: len(effects.completed) == 4, 10, "4 events")
        await _publish(js, behind, msg_id="late-behind")
        await _publish(js, unordered, msg_id="late-unordered")
        await _until(lambda: replica.handled("duplicate") == 2, 10, "their copies recognised")
        await _settled(js)
        assert set(effects.completed.values()) == {1}
        assert len(effects.completed) == 4
    finally:
        await replica.stop()


async def test_a_crash_after_the_handler_but_before_the_ack_does_not_run_it_again(js, nats_url):
    effects = Effects()
    crashing = await Replica(nats_url, "r1", effects).start()
    warm = _event("a", seq=3000)
    await _publish(js, warm)
    await _until(lambda: warm.meta.event_id in effects.completed, 10, "the first event")
    event = _event("a", seq=3001)
    effects.hold_ack[event.meta.event_id] = asyncio.get_running_loop().create_future()  # never resolves: no ack
    await _publish(js, event)
    await _until(lambda: event.meta.event_id in effects.completed, 10, "the handler completed")
    await _until_seen(crashing.inbox, event.meta.event_id)
    await crashing.crash()

    successor = await Replica(nats_url, "r2", effects).start()
    try:
        after = _event("a", seq=3002)
        await _publish(js, after)
        # The lease runs out (1.5 s), then ack_wait (2 s) redelivers the unacked event to the successor.
        await _until(lambda: successor.handled("duplicate") == 1, 15, "the redelivery recognised")
        await _until(lambda: after.meta.event_id in effects.completed, 10, "the next event")
        await _settled(js)
        assert effects.completed == {warm.meta.event_id: 1, event.meta.event_id: 1, after.meta.event_id: 1}
    finally:
        await successor.stop()


async def _until_seen(inbox: Inbox, event_id: str) -> None:
    deadline = time.monotonic() + 5
    while not await inbox.seen(SPEC.name, event_id):
        if time.monotonic() > deadline:
            pytest.fail("the done mark never reached KV")
        await asyncio.sleep(0.02)


async def test_a_crash_mid_handler_is_redelivered_run_to_completion_once_and_nothing_is_lost(js, nats_url):
    effects = Effects()
    crashing = await Replica(nats_url, "r1", effects).start()
    event = _event("a", seq=4000)
    effects.block_before[event.meta.event_id] = asyncio.get_running_loop().create_future()  # the process dies in here
    await _publish(js, event)
    await _until(lambda: effects.started[event.meta.event_id] == 1, 10, "the handler started")
    later = [_event("a", seq=4001 + i) for i in range(5)]
    for other in later:
        await _publish(js, other)
    await crashing.crash()
    del effects.block_before[event.meta.event_id]

    successor = await Replica(nats_url, "r2", effects).start()
    try:
        await _until(lambda: len(effects.completed) == 6, 20, "the interrupted event and the 5 after it")
        await _settled(js)
        assert effects.completed == {e.meta.event_id: 1 for e in [event, *later]}
        assert effects.started[event.meta.event_id] == 2, "started by the crashed replica, completed by its successor"
    finally:
        await successor.stop()


async def test_two_replicas_one_consumes_at_a_time_and_the_other_takes_over_without_doubles(js, nats_url):
    effects = Effects()
    one = await Replica(nats_url, "r1", effects).start()
    two = await Replica(nats_url, "r2", effects).start()
    replicas = [one, two]
    try:
        await _until(lambda: one.lease.held or two.lease.held, 5, "a lease holder")
        assert not (one.lease.held and two.lease.held), "never two holders"
        events = [_event(device, seq=6000 + i) for i in range(15) for device in ("a", "b")]
        for event in events:
            await _publish(js, event)
        for event in events[::4]:
            await _publish(js, event, msg_id=f"copy-{event.meta.event_id}")
        await _until(lambda: len(effects.completed) == 30, 10, "30 events")
        await _settled(js)
        holder = one if one.lease.held else two
        standby = two if holder is one else one
        assert standby.consumer.stats.handled == 0, "the standby pulled nothing"

        await holder.stop()
        replicas.remove(holder)
        await _until(lambda: standby.lease.held, 5, "the standby takes over (the lease was given back)")
        more = [_event("a", seq=7000 + i) for i in range(5)]
        for event in more:
            await _publish(js, event)
        for event in events[1::5]:  # late copies of what the first holder handled
            await _publish(js, event, msg_id=f"late-{event.meta.event_id}")
        await _until(lambda: len(effects.completed) == 35, 10, "the new events")
        await _settled(js)
        assert effects.completed == {e.meta.event_id: 1 for e in [*events, *more]}
        assert standby.handled("duplicate") == len(events[1::5])
    finally:
        for replica in replicas:
            await replica.stop()


async def test_a_done_mark_that_was_not_stored_is_written_again_when_the_event_comes_back(js, nats_url):
    effects = Effects()
    replica = await Replica(nats_url, "r1", effects).start()
    try:
        warm = _event("a", seq=8000)
        await _publish(js, warm)
        await _until(lambda: warm.meta.event_id in effects.completed, 10, "the first event")
        event = _event("a", seq=8001)
        writer = replica.inbox._writer
        send = writer.publish

        async def refuse_once(subject, payload, headers=None):
            # The server refuses this one write (as it would with its stream full): the PubAck says so.
            if event.meta.event_id in subject and not refused:
                refused.append(subject)
                return await send("nostream.refused", payload, headers)
            return await send(subject, payload, headers)

        refused: list[str] = []
        writer.publish = refuse_once
        await _publish(js, event)
        await _until(lambda: replica.consumer.stats.ack_write_failures == 1, 10, "the failed write noticed")
        assert not await replica.inbox.seen(SPEC.name, event.meta.event_id)
        # Not acked, so JetStream redelivers after ack_wait; the holder remembers the event as handled.
        await _until(lambda: replica.handled("duplicate") == 1, 10, "the redelivery recognised")
        await _settled(js)
        assert await replica.inbox.seen(SPEC.name, event.meta.event_id), "the done mark was written the second time"
        assert effects.completed == {warm.meta.event_id: 1, event.meta.event_id: 1}
    finally:
        await replica.stop()

"""sightline_runtime.pull.PullConsumer and publisher.JetStreamWriter against a
real nats-server: order, ack / nak / term, work-in-progress for slow
handlers, deferred acks, the lease, trace context, and pipelined writes."""

from __future__ import annotations

import asyncio
import time

import nats
import pytest
from faststream.exceptions import NackMessage, RejectMessage
from nats.js.api import AckPolicy, ConsumerConfig
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sightline_runtime.publisher import JetStreamWriteError, JetStreamWriter
from sightline_runtime.pull import PullConsumer, defer_ack
from sightline_runtime.telemetry import inject_headers


async def _until(predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


@pytest.fixture
async def js(nats_url):
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await js.add_stream(name="PULLTEST", subjects=["pt.>"])
    yield js
    await nc.close()


def _config(durable: str, *, ack_wait: float = 30.0, max_deliver: int = 5) -> ConsumerConfig:
    return ConsumerConfig(
        durable_name=durable, filter_subject="pt.>", ack_policy=AckPolicy.EXPLICIT, ack_wait=ack_wait, max_deliver=max_deliver
    )


async def _pending(js, durable: str) -> tuple[int, int]:
    info = await js.consumer_info("PULLTEST", durable)
    return info.num_pending, info.num_ack_pending


async def test_ordered_messages_are_handled_one_at_a_time_in_stream_order_and_acked(js):
    seen: list[bytes] = []
    running = 0
    overlap = False

    async def handle(pulled):
        nonlocal running, overlap
        running += 1
        overlap = overlap or running > 1
        await asyncio.sleep(0.001)
        seen.append(pulled.body)
        running -= 1

    for i in range(50):
        await js.publish(f"pt.{i % 3}", str(i).encode())
    async with PullConsumer(js, "PULLTEST", _config("ordered"), handle) as consumer:
        await _until(lambda: len(seen) == 50, 10, "50 messages")
        await _until(lambda: consumer.stats.acked == 50, 5, "50 acks")
    assert seen == [str(i).encode() for i in range(50)]
    assert not overlap, "an ordered consumer never runs two handlers at once"
    assert await _pending(js, "ordered") == (0, 0)


async def test_unordered_consumers_run_handlers_concurrently(js):
    running, peak, done = 0, 0, 0

    async def handle(pulled):
        nonlocal running, peak, done
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.05)
        running -= 1
        done += 1

    for i in range(8):
        await js.publish("pt.x", str(i).encode())
    async with PullConsumer(js, "PULLTEST", _config("unordered"), handle, ordered=False, max_workers=4, batch=8):
        await _until(lambda: done == 8, 10, "8 messages")
    assert peak == 4


async def test_nack_redelivers_after_its_delay_and_reject_terminates(js):
    attempts: dict[bytes, list[int]] = {}

    async def handle(pulled):
        attempts.setdefault(pulled.body, []).append(pulled.raw_message.metadata.num_delivered)
        if pulled.body == b"retry" and pulled.raw_message.metadata.num_delivered == 1:
            raise NackMessage(delay=0.3)
        if pulled.body == b"poison":
            raise RejectMessage()

    await js.publish("pt.a", b"retry")
    await js.publish("pt.a", b"poison")
    started = time.monotonic()
    async with PullConsumer(js, "PULLTEST", _config("naks", ack_wait=30), handle) as consumer:
        await _until(lambda: len(attempts.get(b"retry", [])) == 2, 10, "the redelivery")
        elapsed = time.monotonic() - started
        await _until(lambda: consumer.stats.acked == 1, 5, "the retry acked")
        await asyncio.sleep(0.5)
    assert attempts == {b"retry": [1, 2], b"poison": [1]}, "a terminated message is not redelivered"
    assert 0.3 <= elapsed < 5, "redelivered after the nak delay, not after ack_wait"
    assert consumer.stats.terminated == 1
    assert await _pending(js, "naks") == (0, 0)


async def test_a_handler_slower_than_ack_wait_is_not_redelivered_meanwhile(js):
    deliveries: list[int] = []

    async def slow(pulled):
        deliveries.append(pulled.raw_message.metadata.num_delivered)
        await asyncio.sleep(3.0)

    await js.publish("pt.a", b"slow")
    async with PullConsumer(js, "PULLTEST", _config("slow", ack_wait=1.5), slow, ordered=False, max_workers=2) as consumer:
        await _until(lambda: consumer.stats.acked == 1, 10, "the slow handler acked")
    assert deliveries == [1], "work-in-progress acks kept JetStream from redelivering"


async def test_the_ack_waits_for_deferred_writes_and_a_failed_write_leaves_the_message_for_redelivery(js):
    gate = asyncio.get_running_loop().create_future()
    deliveries: list[int] = []

    async def handle(pulled):
        deliveries.append(pulled.raw_message.metadata.num_delivered)
        if pulled.body == b"held":
            assert defer_ack(gate)
        if pulled.body == b"fails":
            failed = asyncio.get_running_loop().create_future()
            failed.set_exception(JetStreamWriteError("refused"))
            assert defer_ack(failed)

    await js.publish("pt.a", b"held")
    async with PullConsumer(js, "PULLTEST", _config("deferred", ack_wait=2), handle) as consumer:
        await _until(lambda: deliveries == [1], 5, "the first delivery")
        await asyncio.sleep(0.3)
        assert await _pending(js, "deferred") == (0, 1), "not acked while its write is pending"
        gate.set_result(7)
        await _until(lambda: consumer.stats.acked == 1, 5, "acked once the write is stored")
        assert await _pending(js, "deferred") == (0, 0)

        await js.publish("pt.a", b"fails")
        await _until(lambda: len(deliveries) == 3, 10, "the redelivery of the failed one")
    assert deliveries == [1, 1, 2]
    assert consumer.stats.ack_write_failures >= 1
    outside = asyncio.get_running_loop().create_future()
    assert defer_ack(outside) is False, "outside a pull loop the caller awaits its own writes"


async def test_stop_gives_back_what_was_pulled_but_not_handled(js):
    gate = asyncio.Event()
    handled: list[bytes] = []

    async def handle(pulled):
        await gate.wait()
        handled.append(pulled.body)

    for i in range(6):
        await js.publish("pt.a", str(i).encode())
    consumer = PullConsumer(js, "PULLTEST", _config("giveback"), handle, ordered=False, max_workers=1, batch=4)
    await consumer.start()
    await _until(lambda: consumer._busy == 1, 5, "one handler running")
    stopping = asyncio.create_task(consumer.stop())
    await asyncio.sleep(0.1)
    gate.set()
    await stopping
    assert handled == [b"0"], "the handler in progress finished; the queued ones were not started"
    gate.set()
    started = time.monotonic()
    async with PullConsumer(js, "PULLTEST", _config("giveback"), handle):
        await _until(lambda: len(handled) == 6, 10, "the rest, handled by the next consumer")
    assert time.monotonic() - started < 5, "given back at once (nak), not after ack_wait (30 s)"
    assert sorted(handled) == [str(i).encode() for i in range(6)]


class _Lease:
    """A lease the test hands out by hand."""

    def __init__(self) -> None:
        self.flag = False
        self._event = asyncio.Event()
        self.stopped = False

    @property
    def held(self) -> bool:
        return self.flag

    def grant(self) -> None:
        self.flag = True
        self._event.set()

    async def start(self) -> None:
        """Nothing to acquire: this lease is granted by the test itself (grant())."""

    async def wait_held(self) -> None:
        while not self.flag:
            self._event.clear()
            await self._event.wait()

    async def stop(self) -> None:
        self.stopped = True


async def test_with_a_lease_only_its_holder_pulls(js):
    seen: list[bytes] = []

    async def handle(pulled):
        seen.append(pulled.body)

    lease = _Lease()
    await js.publish("pt.a", b"one")
    async with PullConsumer(js, "PULLTEST", _config("leased"), handle, lease=lease):
        await asyncio.sleep(0.6)
        assert seen == [], "no lease, no pulling"
        lease.grant()
        await _until(lambda: seen == [b"one"], 5, "pulling once the lease is held")
    assert lease.stopped, "stop() gives the lease back"


async def test_the_consumer_span_continues_the_producers_trace(js):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    inside: list[trace.SpanContext] = []

    async def handle(pulled):
        inside.append(trace.get_current_span().get_span_context())

    with tracer.start_as_current_span("glasses.input.text", kind=SpanKind.PRODUCER) as producer:
        await js.publish("pt.dev1", b"x", headers=inject_headers({}))
    async with PullConsumer(js, "PULLTEST", _config("traced"), handle, tracer_provider=provider):
        await _until(lambda: inside, 5, "the message")
    (span,) = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.CONSUMER]
    assert span.name == "pt.dev1 process"
    assert span.parent.span_id == producer.get_span_context().span_id
    assert inside[0].span_id == span.context.span_id, "the handler runs inside the consumer span"


async def test_the_writer_resolves_each_write_with_its_stream_sequence_and_reports_refusals(js):
    writer = await JetStreamWriter(js._nc, timeout_s=2.0).start()
    try:
        futures = [await writer.publish(f"pt.w{i}", b"v") for i in range(20)]
        seqs = await asyncio.gather(*futures)
        assert seqs == sorted(seqs), "sent in order, stored in order"
        assert len(set(seqs)) == 20
        await writer.send("pt.unacked", b"v")
        last = await writer.publish("pt.after", b"v")
        assert await last == seqs[-1] + 2, "the unacknowledged write was stored before the next one"
        refused = await writer.publish("nostream.x", b"v")
        with pytest.raises(JetStreamWriteError):
            await refused
        mismatch = await writer.publish("pt.cas", b"v", headers={"Nats-Expected-Last-Subject-Sequence": "999"})
        with pytest.raises(JetStreamWriteError, match=r"wrong last sequence|10071"):
            await mismatch
    finally:
        await writer.stop()

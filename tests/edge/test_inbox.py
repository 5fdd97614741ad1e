"""Application-level dedup (sightline_runtime.inbox) against a real server:
a copy of an event that JetStream's 2-minute window no longer catches is
acknowledged without calling the handler and counted as a duplicate."""

import asyncio
import time

import nats
from sightline.v1.input_pb2 import DeviceInput, TextInput
from sightline_runtime import streams
from sightline_runtime.consumer import HandlerSpec
from sightline_runtime.devices import DeviceRegistry
from sightline_runtime.events import HEADER_MSG_ID, event_headers, new_meta
from sightline_runtime.inbox import ClaimState, Inbox
from sightline_runtime.processes import free_port
from sightline_runtime.pytest_plugin import handler_service
from sightline_runtime.service import Service
from sightline_runtime.settings import ServiceSettings

from tests.edge.helpers import wait_for

CONSUMER = streams.ConsumerSpec(durable="dedupcheck-inputs", filter_subject="glasses.*.up.input")


async def test_a_claim_is_won_once_released_on_failure_and_taken_over_after_its_lease(nats_server):
    nc = await nats.connect(nats_server.url)
    try:
        js = nc.jetstream()
        inbox = await Inbox.open(js, "inboxcheck", ttl_s=3600, lease_s=0.5)
        other = Inbox(inbox._kv, "inboxcheck", lease_s=0.5)

        first = await inbox.claim("h", "event-1")
        assert first.state is ClaimState.CLAIMED
        assert (await other.claim("h", "event-1")).state is ClaimState.IN_PROGRESS, "a live claim blocks a concurrent copy"

        await first.release()  # the handler failed: the retry may claim again
        retry = await other.claim("h", "event-1")
        assert retry.state is ClaimState.CLAIMED
        await retry.done()
        assert (await inbox.claim("h", "event-1")).duplicate
        assert await inbox.seen("h", "event-1")
        assert not await inbox.seen("other_handler", "event-1"), "each handler has its own inbox keys"

        stuck = await inbox.claim("h", "event-2")  # its process dies without releasing
        assert stuck.state is ClaimState.CLAIMED
        await asyncio.sleep(0.6)
        taken = await other.claim("h", "event-2")
        assert taken.state is ClaimState.CLAIMED, "an abandoned claim is taken over after the lease"
        await taken.done()
        await stuck.done()  # the late original finishing must not break anything
        assert (await inbox.claim("h", "event-2")).duplicate

        weird = await inbox.claim("h", "id with spaces/and:colons")
        assert weird.state is ClaimState.CLAIMED, "any printable event id maps to a valid KV key"
    finally:
        await nc.close()


async def _dedup_service(url: str, handler, *, max_deliver: int = 5) -> Service:
    settings = ServiceSettings(nats_url=url, http_port=free_port(), http_host="127.0.0.1", max_deliver=max_deliver, log_level="WARNING")
    return handler_service("dedupcheck", settings, HandlerSpec("inputs", DeviceInput, consumer=CONSUMER, dedup=True), handler)


def _handled(service: Service, outcome: str) -> float:
    value = service.metrics.registry.get_sample_value(
        "sightline_events_handled_total", {"service": "dedupcheck", "handler": "inputs", "outcome": outcome}
    )
    return value or 0.0


async def test_a_copy_after_the_jetstream_window_is_acked_unhandled_and_counted(nats_server, run_service):
    calls: list[str] = []

    async def handler(event, ctx):
        calls.append(ctx.event_id)

    service = await run_service(await _dedup_service(nats_server.url, handler))
    nc = await nats.connect(nats_server.url)
    try:
        js = nc.jetstream()
        await DeviceRegistry(js).add("a")
        event = DeviceInput(meta=new_meta("a", "glasses"), text=TextInput(text="buy"))
        headers = event_headers(event)
        first = await js.publish("glasses.a.up.input", event.SerializeToString(), headers=headers, stream="GLASSES_UP")
        # The same event again with another Nats-Msg-Id: JetStream stores it, as it
        # does any copy that arrives after its window (2 minutes) has passed.
        late = await js.publish(
            "glasses.a.up.input", event.SerializeToString(), headers=headers | {HEADER_MSG_ID: "late-copy"}, stream="GLASSES_UP"
        )
        assert not late.duplicate
        assert late.seq == first.seq + 1, "both copies are in the stream"
        await wait_for(lambda: _handled(service, "duplicate") == 1, 10, "the copy counted as a duplicate")
        other = DeviceInput(meta=new_meta("a", "glasses"), text=TextInput(text="another"))
        await js.publish("glasses.a.up.input", other.SerializeToString(), headers=event_headers(other), stream="GLASSES_UP")
        await wait_for(lambda: len(calls) == 2, 10, "the next event handled")
        assert calls == [event.meta.event_id, other.meta.event_id], "the handler ran once per event id"
        assert _handled(service, "ok") == 2
        info = await js.consumer_info("GLASSES_UP", CONSUMER.durable)
        assert info.num_ack_pending == 0, "the duplicate was acknowledged, not left to redeliver"
        assert info.num_pending == 0
    finally:
        await nc.close()


async def test_a_failed_attempt_releases_its_claim_so_the_retry_runs(nats_server, run_service):
    attempts: list[int] = []

    async def flaky(event, ctx):
        attempts.append(ctx.delivery_attempt)
        if ctx.delivery_attempt == 1:
            raise RuntimeError("engine hiccup")

    service = await run_service(await _dedup_service(nats_server.url, flaky))
    nc = await nats.connect(nats_server.url)
    try:
        js = nc.jetstream()
        await DeviceRegistry(js).add("a")
        event = DeviceInput(meta=new_meta("a", "glasses"), text=TextInput(text="retry me"))
        await js.publish("glasses.a.up.input", event.SerializeToString(), headers=event_headers(event), stream="GLASSES_UP")
        started = time.monotonic()
        await wait_for(lambda: _handled(service, "ok") == 1, 15, "the retry succeeded")
        assert attempts == [1, 2], "the failed claim did not make the retry look like a duplicate"
        assert time.monotonic() - started < 10
        assert _handled(service, "duplicate") == 0
        assert await service.guard.inbox.seen("inputs", event.meta.event_id)
    finally:
        await nc.close()


async def test_a_consumer_lease_has_one_holder_is_taken_over_once_it_lapses_and_at_once_when_given_back(nats_server):
    nc = await nats.connect(nats_server.url)
    try:
        js = nc.jetstream()
        first_inbox = await Inbox.open(js, "leasecheck", ttl_s=3600, lease_s=1.0, instance="one")
        second_inbox = await Inbox.open(js, "leasecheck", ttl_s=3600, lease_s=1.0, instance="two")
        first, second = first_inbox.lease("h", lease_s=1.0), second_inbox.lease("h", lease_s=1.0)
        await first.start()
        await second.start()
        assert first.held
        assert not second.held, "one holder at a time"
        await asyncio.sleep(1.5)
        assert first.held, "renewed while its holder lives"
        assert not second.held
        epoch = first.epoch

        # The holder dies (no renewals, no release): the other takes over once it lapsed.
        first._task.cancel()
        died = time.monotonic()
        await wait_for(lambda: second.held, 5, "the standby takes the lapsed lease")
        assert time.monotonic() - died >= 0.7, "not before the dead holder's lease ran out"
        assert not first.held, "a holder that could not renew stops counting itself the holder"
        first._task = None

        # Given back on a graceful stop: taken at the next try, not after lease_s.
        await second.stop()
        await first.start()
        assert first.held
        assert first.epoch == epoch + 1, "a new holding: the inbox drops what it cached in the last one"
        await first.stop()
    finally:
        await first_inbox.close()
        await second_inbox.close()
        await nc.close()

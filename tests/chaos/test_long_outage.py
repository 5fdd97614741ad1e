"""An outage longer than JetStream's 2-minute duplicate window: the backlog
still reaches the hub exactly once (sourcing resumes where it stopped, it
does not lean on the window), and copies of events that arrive after the
window has passed are dropped by the consumers' inboxes (application-level
dedup by event id)."""

import asyncio
import time

import pytest
from sightline.v1.vision_pb2 import PhotoCaptured, PhotoStored
from sightline_glasses.agent import GlassesAgent
from sightline_runtime import streams
from sightline_runtime.events import event_headers

from tests.edge.helpers import LeafLinkProxy, command, duplicates, make_photo, sha256, stream_messages, subject_count, wait_for

OUTAGE_S = streams.DUPLICATE_WINDOW_S + 10  # 130 s


def _handled(service, handler: str, outcome: str) -> float:
    labels = {"service": service.name, "handler": handler, "outcome": outcome}
    return service.metrics.registry.get_sample_value("sightline_events_handled_total", labels) or 0.0


@pytest.mark.slow
async def test_an_outage_longer_than_the_duplicate_window(hub, hub_nc, provision, vision, view, edge_factory):
    await provision("a")
    js = hub_nc.jetstream()
    proxy = await LeafLinkProxy(hub.config.leafnode_port).start()
    edge = edge_factory("a", proxy.url, status_boot_grace_s=0.5)
    sent, photos = [], {}
    try:
        async with GlassesAgent.on_edge(edge) as agent:
            assert await edge.wait_leaf(5)
            # Before the outage: these reach the hub at once, so any copy of them
            # arriving after the outage is older than the 2-minute window.
            early = [command("a", i) for i in range(3)]
            for event in early:
                await agent.send_input(event)
            for i in range(2):
                photos[await agent.send_photo(make_photo(300 + i))] = make_photo(300 + i)
            assert await agent.wait_drained(20)
            early_notices = [PhotoCaptured.FromString(m.data) for m in await stream_messages(js, "GLASSES_UP", "glasses.a.up.photo")]
            await wait_for(lambda: _handled(vision, "photo_intake", "ok") == 2, 20, "the early photos announced")
            sent += early

            await proxy.cut()
            cut_at = time.monotonic()
            await wait_for(lambda: not agent.online, 5, "the link down")
            for i in range(8):
                if i % 2:
                    event = command("a", 10 + i)
                    await agent.send_input(event)
                    sent.append(event)
                else:
                    data = make_photo(310 + i, kind="png" if i % 4 else "jpeg")
                    photos[await agent.send_photo(data)] = data
                await asyncio.sleep(max(0.0, cut_at + (i + 1) * 12 - time.monotonic()))
            # The edge's own window (a day) still knows the early events: a re-sent one stays local.
            again = await agent.link.uplink.publish("glasses.a.up.input", early[0])
            assert again.duplicate
            await asyncio.sleep(max(0.0, cut_at + OUTAGE_S - time.monotonic()))
            assert time.monotonic() - cut_at > streams.DUPLICATE_WINDOW_S

            await proxy.restore()
            assert await agent.wait_drained(60), f"still queued: {agent.queued}"
    finally:
        await proxy.close()

    inputs = await stream_messages(js, "GLASSES_UP", "glasses.a.up.input")
    assert sorted(m.headers["Nats-Msg-Id"] for m in inputs) == sorted(e.meta.event_id for e in sent), "each command once"
    notices = await stream_messages(js, "GLASSES_UP", "glasses.a.up.photo")
    assert len(notices) == len(photos) == 6
    assert not duplicates([m.headers["Nats-Msg-Id"] for m in notices])
    # The objects exist once vision has verified the chunks and written them.
    await wait_for(lambda: _handled(vision, "photo_intake", "ok") == 6, 30, "every photo announced")
    store = await js.object_store("photos")
    for photo_id, data in photos.items():
        assert sha256((await store.get(f"a/{photo_id}")).data) == sha256(data)
    await wait_for(lambda: len(view.event_ids) == len(sent), 20, "the hub consumer seeing every command")

    # Copies of the early events now reach the hub's stream (e.g. from an edge
    # restored from a backup, or re-sent past the edge's own window): the
    # hub stream's window has long passed, so JetStream stores them again...
    for event in [*early, *early_notices]:
        kind = "photo" if isinstance(event, PhotoCaptured) else "input"
        ack = await js.publish(f"glasses.a.up.{kind}", event.SerializeToString(), headers=event_headers(event), stream="GLASSES_UP")
        assert not ack.duplicate, "past the 2-minute window JetStream no longer drops the copy"
    assert await subject_count(js, "GLASSES_UP", "glasses.a.up.input") == len(sent) + 3
    # ...and the consumers' inboxes drop them: nothing is handled or announced twice.
    await wait_for(lambda: _handled(view.service, "inputs", "duplicate") == 3, 20, "three duplicate commands dropped")
    await wait_for(lambda: _handled(vision, "photo_intake", "duplicate") == 2, 20, "two duplicate notices dropped")
    assert sorted(view.event_ids) == sorted(e.meta.event_id for e in sent)
    stored = [PhotoStored.FromString(m.data) for m in await stream_messages(js, "VISION", "photo.stored.a")]
    assert sorted(s.photo_id for s in stored) == sorted(photos)
    assert _handled(vision, "photo_intake", "ok") == 6

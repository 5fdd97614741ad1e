"""A 60 s leaf link outage while the wearer takes 20 photos and sends
commands: nothing is lost, nothing arrives twice, live audio is not kept,
and the HUD says what is going on."""

import asyncio
import time

import numpy as np
from sightline.v1.display_pb2 import HudRegion
from sightline.v1.vision_pb2 import PhotoStored
from sightline_glasses.agent import GlassesAgent

from tests.edge.helpers import LeafLinkProxy, command, duplicates, make_photo, sha256, stream_messages, subject_count, wait_for

OUTAGE_S = 60.0
PHOTOS = 20
COMMANDS = 10


def _handled(service, handler: str, outcome: str) -> float:
    labels = {"service": service.name, "handler": handler, "outcome": outcome}
    return service.metrics.registry.get_sample_value("sightline_events_handled_total", labels) or 0.0


def _status(agent: GlassesAgent) -> tuple[bool, int] | None:
    shown = agent.hud.regions.get(HudRegion.HUD_REGION_STATUS)
    return (shown.status.online, shown.status.queued) if shown is not None else None


async def test_a_60s_link_cut_loses_nothing_and_duplicates_nothing(hub, hub_nc, provision, vision, view, edge_factory):
    await provision("a")
    js = hub_nc.jetstream()
    proxy = await LeafLinkProxy(hub.config.leafnode_port).start()
    edge = edge_factory("a", proxy.url, status_boot_grace_s=0.5)
    heard: list[bytes] = []

    async def on_audio(msg):
        heard.append(msg.data)

    await hub_nc.subscribe("glasses.a.up.audio", cb=on_audio)
    sent_commands, photos = [], {}
    try:
        async with GlassesAgent.on_edge(edge) as agent:
            assert await edge.wait_leaf(5)
            mic = agent.audio_uplink()
            # Online first: the hub's source of this edge is up and running.
            first = command("a", 100)
            await agent.send_input(first)
            sent_commands.append(first)
            photos[await agent.send_photo(make_photo(100))] = make_photo(100)
            assert await agent.wait_drained(20)
            inputs_before = await subject_count(js, "GLASSES_UP", "glasses.a.up.input")
            notices_before = await subject_count(js, "GLASSES_UP", "glasses.a.up.photo")

            await proxy.cut()
            cut_at = time.monotonic()
            await wait_for(lambda: _status(agent) == (False, 0), 5, "the HUD showing offline")
            heard_at_cut = len(heard)
            steps = PHOTOS + COMMANDS
            for i in range(steps):
                if i % 3 == 2:
                    event = command("a", i)
                    await agent.send_input(event)
                    sent_commands.append(event)
                else:
                    data = make_photo(i, kind="png" if i % 2 else "jpeg")
                    photos[await agent.send_photo(data)] = data
                await mic.send(np.zeros(320, dtype=np.int16), realtime=False)  # live audio into the void
                # Spread over the outage, as a wearer would.
                await asyncio.sleep(max(0.0, cut_at + (i + 1) * (OUTAGE_S - 5) / steps - time.monotonic()))
            assert len(photos) == PHOTOS + 1
            assert len(sent_commands) == COMMANDS + 1
            await wait_for(lambda: _status(agent) == (False, PHOTOS + COMMANDS), 5, "the HUD counting the queue")
            # Nothing crossed while the link was down.
            assert await subject_count(js, "GLASSES_UP", "glasses.a.up.input") == inputs_before
            assert await subject_count(js, "GLASSES_UP", "glasses.a.up.photo") == notices_before
            assert len(heard) == heard_at_cut
            await asyncio.sleep(max(0.0, cut_at + OUTAGE_S - time.monotonic()))

            await proxy.restore()
            assert await agent.wait_drained(90), f"still queued after the link came back: {agent.queued}"
            await wait_for(lambda: _status(agent) == (True, 0), 5, "the HUD back to online, nothing queued")
            # Captions resume with the link; the outage's audio is gone for good.
            await mic.send(np.zeros(320, dtype=np.int16), realtime=False)
            await wait_for(lambda: len(heard) == heard_at_cut + 1, 5, "live audio again")
    finally:
        await proxy.close()

    inputs = await stream_messages(js, "GLASSES_UP", "glasses.a.up.input")
    assert sorted(m.headers["Nats-Msg-Id"] for m in inputs) == sorted(e.meta.event_id for e in sent_commands)
    notices = await stream_messages(js, "GLASSES_UP", "glasses.a.up.photo")
    assert len(notices) == PHOTOS + 1
    assert not duplicates([m.headers["Nats-Msg-Id"] for m in notices])

    async def all_stored():
        msgs = await stream_messages(js, "VISION", "photo.stored.a")
        return msgs if len(msgs) >= PHOTOS + 1 else None

    # The objects exist once vision has verified the chunks and written them.
    stored = [PhotoStored.FromString(m.data) for m in await wait_for(all_stored, 30, "every PhotoStored")]
    assert sorted(s.photo_id for s in stored) == sorted(photos)
    assert all(s.sha256 == sha256(photos[s.photo_id]) for s in stored)
    store = await js.object_store("photos")
    for photo_id, data in photos.items():
        assert sha256((await store.get(f"a/{photo_id}")).data) == sha256(data), photo_id

    await wait_for(lambda: len(view.event_ids) >= COMMANDS + 1, 15, "the hub consumer seeing every command")
    assert sorted(view.event_ids) == sorted(e.meta.event_id for e in sent_commands)
    assert _handled(vision, "photo_intake", "ok") == PHOTOS + 1
    assert _handled(vision, "photo_intake", "duplicate") == 0
    assert _handled(vision, "photo_intake", "rejected") == 0

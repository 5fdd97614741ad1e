"""The glasses as an edge node, over real nats-servers: a hub (domain "hub")
and each pair of glasses' own leaf server (domain edge-<device>)."""

import asyncio

import nats
import numpy as np
import pytest
from sightline.v1.display_pb2 import DisplayUpdate, HudRegion, Panel, TextBlock
from sightline.v1.vision_pb2 import PhotoStored
from sightline_glasses.agent import GlassesAgent
from sightline_glasses.edge import EdgeBusy, EdgeNode
from sightline_overlay.app import create_service as create_overlay
from sightline_overlay.settings import OverlaySettings
from sightline_runtime import streams
from sightline_runtime.events import event_headers, new_meta
from sightline_runtime.processes import free_port

from tests.edge.helpers import LeafLinkProxy, command, duplicates, make_photo, sha256, stream_messages, subject_count, wait_for


async def test_inputs_and_photos_reach_the_hub_once_through_the_edge(hub, hub_nc, provision, vision, view, edge_factory):
    await provision("a")
    edge = edge_factory("a", hub.leafnode_url)
    photos = [make_photo(1), make_photo(2, kind="png")]
    async with GlassesAgent.on_edge(edge) as agent:
        assert await edge.wait_leaf(5)
        commands = [command("a", i) for i in range(3)]
        for event in commands:
            await agent.send_input(event)
        photo_ids = [await agent.send_photo(data) for data in photos]
        assert await agent.wait_drained(20), f"still queued: {agent.queued}"

    js = hub_nc.jetstream()
    inputs = await stream_messages(js, "GLASSES_UP", "glasses.a.up.input")
    assert sorted(m.headers["Nats-Msg-Id"] for m in inputs) == sorted(e.meta.event_id for e in commands)
    notices = await stream_messages(js, "GLASSES_UP", "glasses.a.up.photo")
    assert len(notices) == 2
    # Everything came by sourcing from the edge's outbox, none as a live copy over the leaf.
    assert all(m.headers.get("Nats-Stream-Source", "").startswith("UPLINK_a:") for m in inputs + notices)

    # The objects exist once vision has verified the chunks and written them.
    stored = await wait_for(lambda: _photo_stored(js, "a", 2), 15, "two PhotoStored events")
    store = await js.object_store("photos")
    for photo_id, data in zip(photo_ids, photos, strict=True):
        assert sha256((await store.get(f"a/{photo_id}")).data) == sha256(data)
    assert sorted(s.photo_id for s in stored) == sorted(photo_ids)
    assert {(s.width, s.height) for s in stored} == {(320, 240)}
    assert {s.content_type for s in stored} == {"image/jpeg", "image/png"}
    await wait_for(lambda: len(view.event_ids) == 3, 10, "the hub consumer saw the commands")
    assert not duplicates(view.event_ids)


async def _panel(agent: GlassesAgent, timeout_s: float) -> list[str] | None:
    """The lines of the next panel update the agent shows, None if none came."""
    async for update in agent.updates(timeout_s):
        if update.region == HudRegion.HUD_REGION_PANEL:
            return list(update.panel.text.lines)
    return None


async def _photo_stored(js, device: str, count: int) -> list[PhotoStored] | None:
    msgs = await stream_messages(js, "VISION", f"photo.stored.{device}")
    return [PhotoStored.FromString(m.data) for m in msgs] if len(msgs) >= count else None


async def test_display_updates_come_down_the_leaf_to_their_own_device_only(hub, hub_nc, provision, run_service, edge_factory):
    overlay = OverlaySettings(nats_url=hub.url, http_port=free_port(), http_host="127.0.0.1", log_level="WARNING")
    await run_service(create_overlay(overlay))
    for device in ("a", "b"):
        await provision(device)
    edge_a, edge_b = edge_factory("a", hub.leafnode_url), edge_factory("b", hub.leafnode_url)
    async with GlassesAgent.on_edge(edge_a) as a, GlassesAgent.on_edge(edge_b) as b:
        await a.send_text("hello from a")
        assert await _panel(a, 5.0) == ["hello from a"]

        # A display update for b published on the hub reaches b's edge and nobody else's.
        update = DisplayUpdate(meta=new_meta("b", "overlay"), region=HudRegion.HUD_REGION_PANEL, region_version=1)
        update.panel.CopyFrom(Panel(text=TextBlock(lines=["only for b"])))
        await hub_nc.publish("glasses.b.down.display", update.SerializeToString(), headers=event_headers(update))
        assert await _panel(b, 5.0) == ["only for b"]
        assert await _panel(a, 0.5) is None
        assert await _panel(b, 0.2) is None, "b got its update once"

        # Interest, not filtering on the glasses: each leaf only asks the hub for its own down-link.
        leafs = {leaf["name"]: leaf for leaf in hub.varz("leafz?subs=1")["leafs"]}
        subs_a = set(leafs["edge-a"].get("subscriptions_list") or [])
        assert "glasses.a.down.display" in subs_a
        assert not any(s.startswith("glasses.b.") for s in subs_a)


async def test_offline_indicator_queue_and_live_audio_that_is_not_buffered(hub, hub_nc, provision, edge_factory):
    await provision("a")
    proxy = await LeafLinkProxy(hub.config.leafnode_port).start()
    edge = edge_factory("a", proxy.url, status_boot_grace_s=0.5)
    heard: list[bytes] = []

    async def on_audio(msg):
        heard.append(msg.data)

    await hub_nc.subscribe("glasses.a.up.audio", cb=on_audio)
    await hub_nc.flush()
    frame = np.zeros(320, dtype=np.int16)  # 20 ms at 16 kHz
    try:
        async with GlassesAgent.on_edge(edge) as agent:
            assert await edge.wait_leaf(5)
            mic = agent.audio_uplink()
            await wait_for(lambda: _hears(hub_nc, mic, frame, heard), 5, "audio crossing the leaf while online")
            before = len(heard)

            await proxy.cut()
            await wait_for(lambda: not agent.online, 5, "the agent noticing the leaf link is down")
            for _ in range(25):
                await mic.send(frame, realtime=False)
            await agent.send_input(command("a", 1))
            await agent.send_input(command("a", 2))
            await wait_for(lambda: _status(agent, online=False, queued=2), 5, "the status line: offline, 2 queued")

            await proxy.restore()
            await wait_for(lambda: agent.online, 10, "the leaf link back up")
            assert await agent.wait_drained(15)
            await wait_for(lambda: _status(agent, online=True, queued=0), 5, "the status line: online, 0 queued")
            # Captions resume with the link: new audio flows, the 25 frames of the outage never arrive.
            await wait_for(lambda: _hears(hub_nc, mic, frame, heard), 5, "audio again after the outage")
            await asyncio.sleep(0.5)
            assert len(heard) - before <= 3, f"{len(heard) - before} frames arrived: the outage's frames were buffered"
    finally:
        await proxy.close()
    assert await subject_count(hub_nc.jetstream(), "GLASSES_UP", "glasses.a.up.input") == 2


async def _hears(nc, mic, frame, heard) -> bool:
    count = len(heard)
    await mic.send(frame, realtime=False)
    await nc.flush()
    await asyncio.sleep(0.1)
    return len(heard) > count


def _status(agent: GlassesAgent, *, online: bool, queued: int) -> bool:
    """Whether the HUD's status line (drawn by the glasses themselves) shows this."""
    shown = agent.hud.regions.get(HudRegion.HUD_REGION_STATUS)
    return shown is not None and (shown.status.online, shown.status.queued) == (online, queued)


async def test_up_link_subjects_published_on_the_hub_never_enter_an_edge(hub, hub_nc, provision, edge_factory):
    """A direct client of the hub publishing on a device's up-link subject must
    not feed that device's edge outbox (it would be sourced back: a duplicate)."""
    await provision("a")
    edge = edge_factory("a", hub.leafnode_url)
    async with GlassesAgent.on_edge(edge) as agent:
        assert await edge.wait_leaf(5)
        await asyncio.sleep(0.5)  # interest settled across the leaf
        js = hub_nc.jetstream()
        for i in range(5):
            event = command("a", i)
            # No expected-stream header: any stream on the subject may take it.
            await js.publish("glasses.a.up.input", event.SerializeToString(), headers=event_headers(event))
        # Nor can the hub write into the edge's own photo outbox.
        with pytest.raises(nats.errors.NoRespondersError):
            await hub_nc.request("$O.photo_outbox.M.Zm9yZ2Vk", b"{}", timeout=1)
        await asyncio.sleep(1.0)
        assert (await agent.nc.jetstream().stream_info("UPLINK_a")).state.messages == 0
        assert await agent.link.uplink.backlog() == 0
        assert await agent.link.outbox.count() == 0
    assert await subject_count(hub_nc.jetstream(), "GLASSES_UP", "glasses.a.up.input") == 5


async def test_one_store_runs_one_edge(hub, tmp_path):
    first = EdgeNode("a", tmp_path / "edge", leaf_urls=[hub.leafnode_url]).start()
    try:
        with pytest.raises(EdgeBusy, match="already running"):
            EdgeNode("a", tmp_path / "edge", leaf_urls=[hub.leafnode_url]).start()
    finally:
        first.stop()
    EdgeNode("a", tmp_path / "edge", leaf_urls=[hub.leafnode_url]).start().stop()


async def test_hub_sourcing_is_idempotent_and_survives_a_service_restart(hub, hub_nc, provision):
    js = hub_nc.jetstream()
    await provision("a")
    await provision("b")
    assert not await streams.ensure_uplink_source(js, "a"), "provisioning again changes nothing"
    names = sorted(s.name for s in (await js.stream_info("GLASSES_UP")).config.sources)
    assert names == ["UPLINK_a", "UPLINK_b"]
    # A service starting re-applies GLASSES_UP's config; the device sources must stay.
    await streams.ensure_stream(js, streams.GLASSES_UP)
    assert sorted(s.name for s in (await js.stream_info("GLASSES_UP")).config.sources) == names
    assert await streams.remove_uplink_source(js, "a")
    assert [s.name for s in (await js.stream_info("GLASSES_UP")).config.sources] == ["UPLINK_b"]


async def test_the_edge_keeps_working_with_no_hub_at_all(tmp_path):
    """Glasses booting with no network: inputs and photos are taken and kept."""
    unreachable = f"nats-leaf://127.0.0.1:{free_port()}"
    edge = EdgeNode("a", tmp_path / "edge", leaf_urls=[unreachable]).start()
    try:
        async with GlassesAgent.on_edge(edge) as agent:
            await agent.send_text("noted offline")
            await agent.send_photo(make_photo(7))
            assert not agent.online
            assert await agent.link.backlog() == 2
        nc = await nats.connect(edge.url)
        try:
            info = await nc.jetstream().stream_info("UPLINK_a")
            assert info.state.messages == 1, "the input waits in the edge outbox"
        finally:
            await nc.close()
    finally:
        edge.stop()

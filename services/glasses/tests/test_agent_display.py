"""The agent's display queue against a real nats-server: bounded when
nobody reads it (the demo), lossless for a reader that keeps up, and the
link state read from the connection rather than kept."""

from __future__ import annotations

import asyncio

import httpx
import nats
import pytest
from sightline.v1.display_pb2 import DisplayUpdate, HudRegion
from sightline_glasses.agent import GlassesAgent
from sightline_glasses.display import DisplayQueue
from sightline_glasses.hud import HudServer
from sightline_runtime import subjects
from sightline_runtime.events import new_meta

DEVICE = "q"


def _update(region: int, version: int) -> DisplayUpdate:
    update = DisplayUpdate(meta=new_meta(DEVICE, "test"), region=region, region_version=version)
    update.panel.text.lines.append(f"{HudRegion.Name(region)} v{version}")
    return update


async def _until(predicate, timeout_s: float = 10.0):
    async with asyncio.timeout(timeout_s):
        while not (value := predicate()):
            await asyncio.sleep(0.02)
    return value


async def _publish(nc, updates: list[DisplayUpdate]) -> None:
    for update in updates:
        await nc.publish(subjects.down_display(DEVICE), update.SerializeToString())
    await nc.flush()


async def test_updates_nobody_reads_stay_bounded_and_the_newest_of_each_region_survives(nats_server):
    sender = await nats.connect(nats_server.url)
    try:
        async with GlassesAgent.connect(DEVICE, nats_server.url, display_capacity=16) as agent:
            captions = [_update(HudRegion.HUD_REGION_CAPTION, v) for v in range(1, 501)]
            panels = [_update(HudRegion.HUD_REGION_PANEL, v) for v in range(1, 6)]
            # Interleaved as a demo loop does: a panel now and then between caption partials.
            await _publish(sender, [*captions[:100], panels[0], *captions[100:300], *panels[1:], *captions[300:]])
            await _until(lambda: agent.hud.regions.get(HudRegion.HUD_REGION_CAPTION, DisplayUpdate()).region_version == 500)

            assert len(agent.display.pending) == 16
            assert agent.display_dropped == 505 - 16
            pending = [u async for u in agent.updates(0.2)]
            assert len(pending) == 16
            # Latest-wins per region: the newest caption and the newest panel are never what is dropped.
            assert pending[-1].region_version == 500
            assert [u.region_version for u in pending if u.region == HudRegion.HUD_REGION_PANEL] == [5]
            captions_left = [u.region_version for u in pending if u.region == HudRegion.HUD_REGION_CAPTION]
            assert captions_left == sorted(captions_left) == list(range(486, 501))
    finally:
        await sender.close()


async def test_a_reader_that_keeps_up_sees_every_update_in_order(nats_server):
    sender = await nats.connect(nats_server.url)
    try:
        async with GlassesAgent.connect(DEVICE, nats_server.url) as agent:
            seen: list[int] = []

            async def read() -> None:
                async for update in agent.updates(1.0):
                    seen.append(update.region_version)

            reader = asyncio.create_task(read())
            for version in range(1, 201):
                await _publish(sender, [_update(HudRegion.HUD_REGION_CAPTION, version)])
                if version % 20 == 0:
                    await _until(lambda version=version: seen and seen[-1] == version)
            await reader
            assert seen == list(range(1, 201))
            assert agent.display_dropped == 0
    finally:
        await sender.close()


async def test_the_hud_page_reports_the_queue_and_the_link_read_from_the_connection(nats_server):
    async with GlassesAgent.connect(DEVICE, nats_server.url, display_capacity=8) as agent, HudServer.for_agent(agent) as hud:
        sender = await nats.connect(nats_server.url)
        await _publish(sender, [_update(HudRegion.HUD_REGION_CAPTION, v) for v in range(1, 21)])
        await sender.close()
        await _until(lambda: agent.display_dropped == 12)
        async with httpx.AsyncClient() as client:
            state = (await client.get(hud.url + "state")).json()
            assert state["display_queue"] == {"pending": 8, "dropped": 12}
            assert state["link"] == {"online": True}

            nats_server.stop()
            await _until(lambda: not agent.online)
            assert (await client.get(hud.url + "state")).json()["link"] == {"online": False}
            nats_server.start()
            await _until(lambda: agent.online, 15)
            assert (await client.get(hud.url + "state")).json()["link"] == {"online": True}


def test_the_queue_keeps_room_for_every_region():
    with pytest.raises(ValueError, match="below the number of HUD regions"):
        DisplayQueue(capacity=3)

"""Plays a demo script on a simulated pair of glasses, with its HUD page.

`play_demo` is what `sightline up --demo` runs next to the stack: it
connects a GlassesAgent for the demo device, serves its HUD page, and plays
script.yaml (looping when the script says so) until cancelled. The demo
glasses' camera source is the bundled sample photo, so a TakePhoto command
(the assistant's "take a photo") has something to take. Given the
assistant's notification ingress (`notify`), the script's `notify` steps
push through it as a phone companion would; without it they are skipped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

import nats

from sightline_glasses.agent import GlassesAgent
from sightline_glasses.camera import Camera
from sightline_glasses.demo.script import DEFAULT_SCRIPT, DemoScript, Step, load_script
from sightline_glasses.demo.steps import STEPS, DemoContext, NotifyIngress, StepUnavailable
from sightline_glasses.hud import HudServer
from sightline_glasses.settings import EdgeSettings

log = logging.getLogger(__name__)

DEMO_DEVICE = "demo"
# What the demo glasses' camera sees.
SAMPLE_PHOTO = Path(__file__).with_name("media") / "street.jpg"


class DemoRunner:
    def __init__(self, script: DemoScript, ctx: DemoContext) -> None:
        self.script = script
        self.ctx = ctx
        self.played: list[Step] = []
        # Steps this agent cannot do yet, reported once each (not every loop).
        self.unavailable: dict[int, str] = {}
        self.failed: list[tuple[Step, BaseException]] = []

    async def run(self, *, loops: int | None = None) -> None:
        """Play the script once, or `loops` times, or (looping scripts) until cancelled."""
        done = 0
        while True:
            for step in self.script.steps:
                await self.play(step)
                await asyncio.sleep(step.wait_s)
            done += 1
            if not self.script.loop or (loops is not None and done >= loops):
                return
            await asyncio.sleep(self.script.loop_pause_s)

    async def play(self, step: Step) -> None:
        log.info("demo %s", step)
        try:
            await STEPS[step.kind].run(self.ctx, step.spec)
        except StepUnavailable as exc:
            if step.index not in self.unavailable:
                log.warning("demo %s skipped: %s", step, exc)
            self.unavailable[step.index] = str(exc)
            return
        except Exception as exc:  # noqa: BLE001 - logged and kept in self.failed
            # A demo shows the product; one failed step (a service restarting) must not end it.
            log.warning("demo %s failed: %s", step, exc or type(exc).__name__)
            self.failed.append((step, exc))
            return
        self.played.append(step)


async def play_demo(
    nats_url: str,
    *,
    device: str = DEMO_DEVICE,
    hud_port: int = 0,
    script: DemoScript | None = None,
    on_hud: Callable[[str], None] = lambda url: None,
    device_credentials: str | None = None,
    director_credentials: str | None = None,
    camera_source: Path = SAMPLE_PHOTO,
    notify: NotifyIngress | None = None,
) -> None:
    """Run the demo device and its HUD page until cancelled (or until a
    non-looping script ends). `on_hud` gets the page URL once it serves.
    On a hub with authorisation the device and the director each need their
    own credentials (the director may only draw on the demo device's HUD).
    `notify` is the assistant's notification ingress, for `notify` steps."""
    script = script or load_script(DEFAULT_SCRIPT)
    settings = EdgeSettings()
    camera = Camera(camera_source, max_bytes=settings.photo_max_bytes, max_pixels=settings.photo_max_pixels)
    options = {"user_credentials": director_credentials} if director_credentials else {}
    director = await nats.connect(nats_url, name="demo-director", max_reconnect_attempts=-1, **options)
    try:
        async with (
            GlassesAgent.connect(device, nats_url, credentials_file=device_credentials, camera=camera) as agent,
            HudServer.for_agent(agent, port=hud_port) as hud,
        ):
            on_hud(hud.url)
            await DemoRunner(script, DemoContext(agent=agent, director=director, base_dir=script.base_dir, notify=notify)).run()
    finally:
        await director.drain()

"""`sightline glasses`: a simulated pair of glasses."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import nats
import typer
from sightline_glasses.agent import GlassesAgent
from sightline_glasses.audio import AudioFileError, read_wav
from sightline_glasses.hud import HudServer
from sightline_runtime.devices import DeviceRegistry, is_active
from sightline_runtime.subjects import InvalidDeviceId, check_device_id
from sightline_runtime.telemetry import make_tracer_provider

from sightline_cli.console import DEFAULT_STATE, StateDir, err, fail, out, server_url
from sightline_cli.render import update_json, update_panel


def glasses(
    device: Annotated[str, typer.Option("--device", "-d", help="Device id of the simulated glasses.")],
    server: Annotated[str | None, typer.Option(help="Hub NATS URL; default: the local stack's (stack.json).")] = None,
    text: Annotated[list[str] | None, typer.Option("--text", "-t", help="Text input to send (repeatable).")] = None,
    language: Annotated[str, typer.Option(help="BCP-47 language of --text.")] = "",
    jsonl: Annotated[bool, typer.Option("--jsonl", help="Print each display update as one line of protobuf JSON.")] = False,
    idle_timeout: Annotated[float, typer.Option(help="Exit after this many seconds without a new display update.")] = 5.0,
    hud: Annotated[
        bool | None, typer.Option("--hud/--no-hud", help="Serve the live HUD page on 127.0.0.1 (default: on, off with --jsonl).")
    ] = None,
    hud_port: Annotated[int, typer.Option(min=0, max=65535, help="Port of the HUD page; 0 picks a free one.")] = 0,
    say: Annotated[
        list[Path] | None, typer.Option("--say", help="WAV file to speak into the microphone at real-time pace (repeatable, in order).")
    ] = None,
    source_language: Annotated[str, typer.Option("--from", help="Language spoken in the --say files.")] = "en",
    target_language: Annotated[str, typer.Option("--to", help="Language to caption the speech in: zh, es or en.")] = "",
    state_dir: StateDir = DEFAULT_STATE,
) -> None:
    """Run a simulated pair of glasses: send inputs, print the display updates that come back."""
    try:
        check_device_id(device)
    except InvalidDeviceId as exc:
        raise fail(str(exc), 2) from None
    if target_language not in CAPTION_LANGUAGES:
        raise fail(f"--to {target_language!r} is not one of {', '.join(CAPTION_LANGUAGES[1:])}", 2)
    for path in say or []:
        try:
            read_wav(path)  # refuse a bad file before anything is sent
        except AudioFileError as exc:
            raise fail(str(exc), 2) from None
    speech = Speech(files=say or [], source=source_language, target=target_language)
    url, local = server_url(server, state_dir)
    # The HUD page is for a person watching; --jsonl is for scripts, which get no port opened unasked.
    serve_hud = (not jsonl) if hud is None else hud
    page_port = hud_port if serve_hud else None
    received = asyncio.run(
        _glasses(
            device,
            url,
            local=local,
            texts=text or [],
            language=language,
            jsonl=jsonl,
            idle_timeout=idle_timeout,
            hud_port=page_port,
            speech=speech,
        )
    )
    if received == 0:
        raise fail(f"no display update for device {device!r} within {idle_timeout:g}s (is the stack up and the device provisioned?)")


# Caption languages the translation engines serve ("" = captions in the spoken language only).
CAPTION_LANGUAGES = ("", "zh", "es", "en")


@dataclass(frozen=True)
class Speech:
    """--say files and their languages."""

    files: list[Path] = field(default_factory=list)
    source: str = "en"
    target: str = ""


async def _speak(agent: GlassesAgent, speech: Speech) -> None:
    for path in speech.files:
        await agent.say(path, source_language=speech.source, target_language=speech.target)


async def _glasses(
    device: str,
    url: str,
    *,
    local: bool,
    texts: list[str],
    language: str,
    jsonl: bool,
    idle_timeout: float,
    hud_port: int | None = None,
    speech: Speech | None = None,
) -> int:
    provider = make_tracer_provider("glasses", instance=device)
    try:
        async with GlassesAgent(device, url, tracer_provider=provider) as agent, _hud_page(agent, hud_port, jsonl=jsonl):
            if local:
                await _provision_locally(agent, device)
            for item in texts:
                await agent.send_text(item, language=language)
            # Speech plays while captions are printed; the idle timeout counts only once it is over.
            speaking = asyncio.create_task(_speak(agent, speech)) if speech and speech.files else None
            received = 0
            while True:
                spoken = speaking is None or speaking.done()
                async for update in agent.updates(idle_timeout):
                    received += 1
                    if jsonl:
                        sys.stdout.write(update_json(update) + "\n")
                        sys.stdout.flush()
                    else:
                        out.print(update_panel(update))
                if spoken:
                    break
            if speaking is not None:
                await speaking
            return received
    except (OSError, nats.errors.NoServersError) as exc:
        raise fail(f"cannot reach NATS at {url}: {exc or 'timed out'}") from None
    finally:
        provider.shutdown()


async def _provision_locally(agent: GlassesAgent, device: str) -> None:
    """Dev convenience for the local stack only: provision an unknown device."""
    assert agent.nc is not None
    registry = DeviceRegistry(agent.nc.jetstream())
    if not is_active(await registry.get(device)):
        await registry.add(device)
        err.print(f"[dim]provisioned device {device!r} in the local stack's registry[/dim]")


@contextlib.asynccontextmanager
async def _hud_page(agent: GlassesAgent, port: int | None, *, jsonl: bool) -> AsyncIterator[None]:
    """Serve the agent's HUD page for as long as the glasses run (port None: no page)."""
    if port is None:
        yield
        return
    try:
        server = await HudServer.for_agent(agent, port=port).start()
    except OSError as exc:
        raise fail(f"cannot serve the HUD page on port {port}: {exc}") from None
    # stdout stays pure JSONL with --jsonl, so the URL goes to stderr there.
    (err if jsonl else out).print(f"HUD page: {server.url}", markup=False, highlight=False, soft_wrap=True)
    try:
        yield
    finally:
        await server.stop()

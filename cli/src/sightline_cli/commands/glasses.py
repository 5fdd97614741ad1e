"""`sightline glasses`: a simulated pair of glasses.

By default the glasses run as an edge node, as real ones do: their own
nats-server (a leaf of the hub, store under <state dir>/edge/<device>) that
keeps inputs and photos while the link is down and sends them when it is
back. --direct connects straight to the hub instead (quick tests).

Against the local stack, the glasses first wait (--wait, a spinner) for the
services their inputs need to be ready (sightline_cli.readiness): audio is
live-only, so speech sent before asr listens would be lost without a word,
and a spoken command ("Hey Sightline, ...") is obeyed only while it is fresh,
so speech also waits for the assistant when the stack runs it.

While they run, the glasses act on commands from the hub (the assistant's
"take a photo", "translate this conversation"): --camera gives them
something to photograph, and each command is printed as it is acted on.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import nats
import typer
from sightline.v1.device_pb2 import DeviceCommand
from sightline.v1.display_pb2 import HudRegion
from sightline_glasses.agent import GlassesAgent, PrivacyModeActive
from sightline_glasses.audio import AudioFileError, read_wav
from sightline_glasses.camera import Camera, CameraError
from sightline_glasses.edge import EdgeBusy, EdgeNode, edge_store_dir
from sightline_glasses.hud import HudServer
from sightline_glasses.photo_upload import HubUnreachable, PhotoStoreFull
from sightline_glasses.photos import Photo, PhotoError, read_photo
from sightline_glasses.settings import EdgeSettings
from sightline_glasses.uplink import UplinkFull
from sightline_runtime.natsserver import NatsServerError
from sightline_runtime.subjects import InvalidDeviceId, check_device_id
from sightline_runtime.telemetry import make_tracer_provider

from sightline_cli.console import DEFAULT_STATE, StateDir, connect_hub, err, fail, out, server_url
from sightline_cli.readiness import Need, ServiceState, in_stack, needed_services, wait_ready
from sightline_cli.render import update_json, update_panel
from sightline_cli.security import LocalSecurity, ensure_source, provision_device
from sightline_cli.stack import StackInfo, StackNotRunning


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
    target_language: Annotated[str, typer.Option("--to", help="Language for captions and photo labels: zh, es or en.")] = "",
    photo: Annotated[list[Path] | None, typer.Option("--photo", "-p", help="JPEG or PNG to take as a photo (repeatable).")] = None,
    camera: Annotated[
        Path | None,
        typer.Option(
            "--camera",
            help="What the camera sees when a command from the hub takes a photo: a JPEG/PNG, or a folder of them (used in turn).",
        ),
    ] = None,
    direct: Annotated[bool, typer.Option("--direct", help="No edge node: connect straight to the hub (quick tests).")] = False,
    leaf_url: Annotated[
        str | None,
        typer.Option(help="The hub's leafnode URL; default: the local stack's, else the --server host on port 7422."),
    ] = None,
    drain_timeout: Annotated[
        float, typer.Option(min=0, help="Before exiting, wait this long for queued inputs and photos to reach the hub.")
    ] = 10.0,
    creds: Annotated[
        Path | None,
        typer.Option("--creds", help="The device's credentials (sightline devices add); default: issued by the local stack."),
    ] = None,
    tls_ca: Annotated[
        Path | None, typer.Option("--tls-ca", help="CA that signed the hub's leafnode certificate; default: the local stack's.")
    ] = None,
    privacy: Annotated[
        str | None, typer.Option("--privacy", help="Turn privacy mode on or off first: camera and microphone stop, on the hub too.")
    ] = None,
    wait: Annotated[
        float,
        typer.Option(
            "--wait",
            min=0,
            help="Seconds to wait for the local stack's services these inputs need (asr for --say, vision for --photo, "
            "translation for --to, overlay for all, the assistant for --say when the stack runs it) to be ready; 0 looks once.",
        ),
    ] = 60.0,
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
    if privacy not in (None, "on", "off"):
        raise fail(f"--privacy takes on or off, not {privacy!r}", 2)
    for path in (creds, tls_ca):
        if path is not None and not path.is_file():
            raise fail(f"no such file: {path}", 2)
    speech = Speech(files=say or [], source=source_language, target=target_language)
    settings = EdgeSettings()
    photos = _read_photos(photo or [], settings)
    try:
        camera_source = Camera(camera, max_bytes=settings.photo_max_bytes, max_pixels=settings.photo_max_pixels) if camera else None
    except CameraError as exc:
        raise fail(str(exc), 2) from None
    url, local = server_url(server, state_dir)
    if local:
        # Only the local stack says where each service's /readyz is; a remote hub is taken as it is.
        # Speech is translated when --to differs from --from; a photo's labels whenever --to names a language.
        translate = bool(target_language) and (target_language != source_language or bool(photo))
        _wait_for_services(state_dir, needed_services(texts=bool(text), speech=bool(say), translate=translate, photos=bool(photo)), wait)
    edge = None if direct else EdgeOptions(store_dir=edge_store_dir(state_dir, device), leaf_url=_leaf_url(leaf_url, url, local, state_dir))
    access = _access(local, state_dir, creds, tls_ca)
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
            photos=photos,
            edge=edge,
            settings=settings,
            drain_timeout=drain_timeout,
            access=access,
            privacy=None if privacy is None else privacy == "on",
            camera=camera_source,
        )
    )
    expects_reply = bool(text or say) or edge is None
    if edge is not None and received.queued:
        where = "the link to the hub is down" if not received.online else "the hub has not taken them (is this device provisioned there?)"
        raise fail(
            f"cannot reach NATS hub at {edge.leaf_url}: {where}; {received.queued} input(s)/photo(s) stay queued in "
            f"{edge.store_dir} and are sent the next time these glasses run"
        )
    if expects_reply and received.updates == 0:
        raise fail(f"no display update for device {device!r} within {idle_timeout:g}s (is the stack up and the device provisioned?)")


def _wait_for_services(state_dir: Path, needs: dict[str, Need], timeout_s: float) -> None:
    """Wait, with a spinner, until the services these inputs need are ready;
    exit naming the ones that are not (and why) before anything is sent."""
    if not needs:
        return
    try:
        needs, not_run = in_stack(needs, StackInfo.read(state_dir))
    except StackNotRunning as exc:
        raise fail(str(exc)) from None
    for name, need in not_run.items():
        # Not a reason to refuse: what the wearer says is still captioned.
        err.print(f"{name} is not part of this stack: {need.without}", style="dim", markup=False)
    started = time.monotonic()
    waited = False
    with err.status("checking the stack…") as spinner:

        def on_wait(states: list[ServiceState], elapsed: float) -> None:
            nonlocal waited
            waiting = [s for s in states if not s.ready]
            if not waited:
                # Also for a log or a pipe, where the spinner does not show.
                err.print(f"waiting up to {timeout_s:g}s for {'; '.join(s.describe() for s in waiting)}", style="dim", markup=False)
                waited = True
            spinner.update(f"waiting for {'; '.join(s.describe() for s in waiting)} · {elapsed:.0f}s of {timeout_s:g}s")

        try:
            not_ready = asyncio.run(wait_ready(state_dir, list(needs), timeout_s, on_wait=on_wait))
        except StackNotRunning as exc:
            raise fail(str(exc)) from None
    if not not_ready:
        if waited:
            err.print(f"{', '.join(needs)} ready after {time.monotonic() - started:.1f}s", style="dim", markup=False)
        return
    absent = [s for s in not_ready if not s.may_come]
    if absent:
        names = ", ".join(f"{s.service} (for {needs[s.service].flag})" for s in absent)
        raise fail(
            f"not running in this stack: {names}; nothing was sent. Start the stack with "
            + ("them" if len(absent) > 1 else "it")
            + " (`sightline up` runs every service)"
        )
    logs = ", ".join(s.log_file for s in not_ready if s.log_file)
    raise fail(
        f"not ready after {timeout_s:g}s: {'; '.join(s.describe() for s in not_ready)}; nothing was sent"
        + (f" (logs: {logs})" if logs else "")
        + ". Try again with a longer --wait, or see `sightline status`"
    )


@dataclass(frozen=True)
class Access:
    """How these glasses authenticate: their credentials file (None: issue
    them from the local stack), the CA of the hub's leafnode certificate,
    and the local stack's admin access for provisioning."""

    creds: Path | None = None
    tls_ca: Path | None = None
    local_security: LocalSecurity | None = None


def _access(local: bool, state_dir: Path, creds: Path | None, tls_ca: Path | None) -> Access:
    if not local:
        return Access(creds=creds, tls_ca=tls_ca)
    stack = StackInfo.read(state_dir)
    ca = tls_ca or (Path(stack.tls_ca_file) if stack.tls_ca_file else None)
    return Access(creds=creds, tls_ca=ca, local_security=LocalSecurity(state_dir) if stack.admin_credentials else None)


@dataclass(frozen=True)
class EdgeOptions:
    store_dir: Path
    leaf_url: str


@dataclass(frozen=True)
class Received:
    """What a run saw: display updates from the hub, and what it left queued on the edge."""

    updates: int
    queued: int = 0
    online: bool = True


def _read_photos(paths: list[Path], settings: EdgeSettings) -> list[tuple[Path, Photo]]:
    """Check every --photo before anything starts: a bad file is a usage error (exit 2)."""
    photos = []
    for path in paths:
        try:
            photos.append((path, read_photo(path, max_bytes=settings.photo_max_bytes, max_pixels=settings.photo_max_pixels)))
        except PhotoError as exc:
            raise fail(str(exc), 2) from None
    return photos


def _leaf_url(explicit: str | None, hub_url: str, local: bool, state_dir: Path) -> str:
    if explicit:
        return explicit
    if local:
        leaf = StackInfo.read(state_dir).leafnode_url
        if not leaf:
            raise fail("the running stack opened no leafnode port (started by an older sightline): restart `sightline up`, or use --direct")
        return leaf
    # The hub's leafnode port is 7422 by convention (deploy/nats, NATS' default).
    host = urlsplit(hub_url if "://" in hub_url else f"nats://{hub_url}").hostname or "127.0.0.1"
    return f"nats-leaf://{host}:7422"


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
        # In the conversation's languages (--from/--to), which a ConversationTranslation command changes.
        await agent.say(path)


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
    photos: list[tuple[Path, Photo]] | None = None,
    edge: EdgeOptions | None = None,
    settings: EdgeSettings | None = None,
    drain_timeout: float = 10.0,
    access: Access | None = None,
    privacy: bool | None = None,
    camera: Camera | None = None,
) -> Received:
    provider = make_tracer_provider("glasses", instance=device)
    settings = settings or EdgeSettings()
    access = access or Access()
    try:
        async with contextlib.AsyncExitStack() as running:
            creds = access.creds
            if creds is None and local and access.local_security is not None:
                creds = await _provision_at_hub(url, device, access.local_security)
            if edge is None:
                opening = GlassesAgent.connect(
                    device, url, tracer_provider=provider, settings=settings, credentials_file=_str(creds), camera=camera
                )
            else:
                leaf = {"leaf_credentials_file": _str(creds) or settings.leaf_credentials_file}
                if access.tls_ca is not None:
                    leaf["leaf_tls_ca_file"] = str(access.tls_ca)
                node = await _start_edge(device, edge, settings.model_copy(update=leaf))
                running.callback(node.stop)
                opening = GlassesAgent.on_edge(node, tracer_provider=provider, camera=camera)
            agent = await running.enter_async_context(opening)
            _listen_for_commands(agent, speech)
            await running.enter_async_context(_hud_page(agent, hud_port, jsonl=jsonl))
            if local and edge is not None and access.local_security is not None:
                # Now that the edge has its outbox, the hub's source starts at once.
                await _source_at_hub(url, device, access.local_security)
            if privacy is not None:
                await agent.set_privacy(privacy)
                err.print(f"[dim]privacy mode {'on: camera and microphone off' if privacy else 'off'}[/dim]")
            await _take_photos(agent, photos or [], target_language=speech.target if speech else "")
            for item in texts:
                await agent.send_text(item, language=language)
            # Speech plays while captions are printed; the idle timeout counts only once it is over.
            speaking = asyncio.create_task(_speak(agent, speech)) if speech and speech.files else None
            received = await _show_updates(agent, speaking, idle_timeout=idle_timeout, jsonl=jsonl, drain_timeout=drain_timeout)
            if speaking is not None:
                await speaking
            return Received(updates=received, queued=agent.queued, online=agent.online)
    except (OSError, nats.errors.NoServersError) as exc:
        raise fail(f"cannot reach NATS at {url}: {exc or 'timed out'}") from None
    except nats.errors.Error as exc:
        raise fail(f"NATS at {url} refused these glasses: {exc} (are their credentials valid? see sightline devices add)") from None
    except (PhotoError, PhotoStoreFull, UplinkFull, HubUnreachable, PrivacyModeActive) as exc:
        raise fail(str(exc)) from None
    finally:
        provider.shutdown()


def _listen_for_commands(agent: GlassesAgent, speech: Speech | None) -> None:
    """Start the conversation in --from/--to (commands change it from there) and print each command acted on."""
    if speech is not None:
        agent.conversation.reset(speech.source, speech.target)
    agent.command_listeners.append(_print_command)


def _print_command(command: DeviceCommand, outcome: str, detail: str) -> None:
    kind = command.WhichOneof("command")
    err.print(f"command {kind} from {command.meta.producer or '?'}: {outcome} ({detail})", style="dim", markup=False, highlight=False)


async def _take_photos(agent: GlassesAgent, photos: list[tuple[Path, Photo]], *, target_language: str = "") -> None:
    agent.upload_listeners.append(lambda photo_id: err.print(f"[dim]photo {photo_id} uploaded to the hub (vision verifies it)[/dim]"))
    for path, photo in photos:
        # The text vision reads in it is labelled in --to, else in the device's default language.
        photo_id = await agent.send_photo(photo.data, content_type=photo.content_type, target_language=target_language)
        err.print(f"[dim]took photo {path.name} ({photo.width}x{photo.height}) as {photo_id}[/dim]")


async def _show_updates(
    agent: GlassesAgent, speaking: asyncio.Task[None] | None, *, idle_timeout: float, jsonl: bool, drain_timeout: float
) -> int:
    """Print display updates until none came for idle_timeout (and speech is over);
    returns how many came from the hub."""
    received = 0
    drain_until = asyncio.get_running_loop().time() + drain_timeout
    while True:
        spoken = speaking is None or speaking.done()
        async for update in agent.updates(idle_timeout):
            # The status line is drawn by the glasses themselves, not sent by the hub.
            received += update.region != HudRegion.HUD_REGION_STATUS
            if jsonl:
                sys.stdout.write(update_json(update) + "\n")
                sys.stdout.flush()
            else:
                out.print(update_panel(update))
        if not spoken:
            continue
        # Queued inputs may yet bring replies: wait for them to reach the hub, then listen again.
        remaining = drain_until - asyncio.get_running_loop().time()
        if agent.queued and remaining > 0:
            err.print(f"[dim]waiting up to {remaining:.0f}s for {agent.queued} queued item(s) to reach the hub…[/dim]")
            if await agent.wait_drained(remaining):
                continue
        return received


async def _start_edge(device: str, options: EdgeOptions, settings: EdgeSettings) -> EdgeNode:
    """Start the glasses' own nats-server and give the leaf link a moment to come up
    (it need not: the glasses work offline and send everything later)."""
    grace = settings.status_boot_grace_s
    # This wait is the boot grace: after it, a link still down shows on the HUD at once.
    settings = settings.model_copy(update={"status_boot_grace_s": 0.0})
    node = EdgeNode(device, options.store_dir, settings=settings, leaf_urls=[options.leaf_url])
    try:
        await asyncio.to_thread(node.start)
    except EdgeBusy as exc:
        raise fail(str(exc)) from None
    except NatsServerError as exc:
        raise fail(f"the edge nats-server did not start: {exc}") from None
    await node.wait_leaf(grace)
    return node


def _str(path: Path | None) -> str | None:
    return str(path) if path is not None else None


async def _provision_at_hub(url: str, device: str, security: LocalSecurity) -> Path:
    """Dev convenience for the local stack only, with its admin access:
    provision the device (registry + its own credentials). Returns the
    credentials file."""
    nc = await connect_hub(url, security.state_dir, name="sightline-cli")
    try:
        _, path, issued = await provision_device(nc, security, device, source=False)
    finally:
        await nc.drain()
    if issued:
        err.print(f"[dim]provisioned device {device!r} in the local stack (credentials: {path})[/dim]")
    return path


async def _source_at_hub(url: str, device: str, security: LocalSecurity) -> None:
    nc = await connect_hub(url, security.state_dir, name="sightline-cli")
    try:
        await ensure_source(nc, device)
    finally:
        await nc.drain()


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

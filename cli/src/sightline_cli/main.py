"""`sightline`: run the local stack, simulate a pair of glasses, manage devices."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path
from typing import Annotated

import nats
import typer
from rich.console import Console
from rich.table import Table
from sightline.v1.device_pb2 import DeviceStatus
from sightline_glasses.agent import GlassesAgent
from sightline_runtime.devices import DeviceRegistry, is_active
from sightline_runtime.subjects import InvalidDeviceId, check_device_id
from sightline_runtime.telemetry import make_tracer_provider

from sightline_cli.render import stack_table, update_json, update_panel
from sightline_cli.stack import DEFAULT_STATE_DIR, SERVICES, StackInfo, StackNotRunning
from sightline_cli.supervisor import Supervisor

app = typer.Typer(help="Sightline — the open backend for AI glasses.", no_args_is_help=True, add_completion=False)
devices_app = typer.Typer(help="Provision and manage devices.", no_args_is_help=True)
app.add_typer(devices_app, name="devices")

out = Console()
err = Console(stderr=True)

StateDir = Annotated[Path, typer.Option("--state-dir", help="Where the local stack keeps its data and stack.json.")]


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


# ---------------------------------------------------------------- up / status
@app.command()
def up(
    state_dir: StateDir = DEFAULT_STATE_DIR,
    service: Annotated[list[str] | None, typer.Option("--service", "-s", help="Run only these services (repeatable).")] = None,
    nats_port: Annotated[int, typer.Option(help="Preferred NATS port; a free one is used when it is taken.")] = 4222,
    ready_timeout: Annotated[float, typer.Option(help="Seconds to wait for every service to be ready.")] = 90.0,
) -> None:
    """Start nats-server and every service, supervise them until Ctrl-C or SIGTERM."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per readiness poll is noise
    chosen = tuple(service or SERVICES)
    unknown = sorted(set(chosen) - set(SERVICES))
    if unknown:
        raise _fail(f"unknown service(s) {', '.join(unknown)}; choose from {', '.join(SERVICES)}")
    with contextlib.suppress(StackNotRunning):
        running = StackInfo.read(state_dir)
        raise _fail(f"a stack is already running from {state_dir} (pid {running.supervisor_pid}, NATS {running.nats_url})")
    state_dir.mkdir(parents=True, exist_ok=True)
    asyncio.run(_up(state_dir.resolve(), chosen, nats_port, ready_timeout))


async def _up(state_dir: Path, services: tuple[str, ...], nats_port: int, ready_timeout: float) -> None:
    supervisor = Supervisor(state_dir=state_dir, services=services, nats_port=nats_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    with out.status("starting nats-server…"):
        nats_server = supervisor.start_nats()
    out.print(f"nats-server ready at [bold]{nats_server.url}[/bold] (JetStream in {nats_server.config.store_dir})")
    try:
        await supervisor.start_services()
        with out.status(f"starting {len(services)} services…"):
            waiter = asyncio.create_task(supervisor.wait_ready(ready_timeout))
            stopper = asyncio.create_task(stop.wait())
            await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
        if waiter.done() and waiter.result():
            assert supervisor.info is not None
            out.print(stack_table(supervisor.info))
            out.print(f"stack file: {state_dir / 'stack.json'}")
            out.print("try: [bold]sightline glasses --device a --text hello[/bold]  ·  Ctrl-C stops")
        elif not stop.is_set():
            waiter.cancel()
            err.print(
                f"[yellow]not every service became ready in {ready_timeout:.0f}s; still supervising (logs: {state_dir / 'logs'})[/yellow]"
            )
            if supervisor.info is not None:
                err.print(stack_table(supervisor.info))
        await stop.wait()
    finally:
        with out.status("stopping…"):
            await supervisor.stop()
        out.print("stopped")


@app.command()
def status(state_dir: StateDir = DEFAULT_STATE_DIR) -> None:
    """Show the running local stack."""
    try:
        info = StackInfo.read(state_dir)
    except StackNotRunning as exc:
        raise _fail(str(exc)) from None
    out.print(stack_table(info))


# ---------------------------------------------------------------- glasses
def _server_url(server: str | None, state_dir: Path) -> tuple[str, bool]:
    """(NATS URL, whether it is the local stack from stack.json)."""
    if server:
        return server, False
    try:
        return StackInfo.read(state_dir).nats_url, True
    except StackNotRunning as exc:
        raise _fail(str(exc)) from None


@app.command()
def glasses(
    device: Annotated[str, typer.Option("--device", "-d", help="Device id of the simulated glasses.")],
    server: Annotated[str | None, typer.Option(help="Hub NATS URL; default: the local stack's (stack.json).")] = None,
    text: Annotated[list[str] | None, typer.Option("--text", "-t", help="Text input to send (repeatable).")] = None,
    language: Annotated[str, typer.Option(help="BCP-47 language of --text.")] = "",
    jsonl: Annotated[bool, typer.Option("--jsonl", help="Print each display update as one line of protobuf JSON.")] = False,
    idle_timeout: Annotated[float, typer.Option(help="Exit after this many seconds without a new display update.")] = 5.0,
    state_dir: StateDir = DEFAULT_STATE_DIR,
) -> None:
    """Run a simulated pair of glasses: send inputs, print the display updates that come back."""
    try:
        check_device_id(device)
    except InvalidDeviceId as exc:
        raise _fail(str(exc), 2) from None
    url, local = _server_url(server, state_dir)
    received = asyncio.run(_glasses(device, url, local=local, texts=text or [], language=language, jsonl=jsonl, idle_timeout=idle_timeout))
    if received == 0:
        raise _fail(f"no display update for device {device!r} within {idle_timeout:g}s (is the stack up and the device provisioned?)")


async def _glasses(device: str, url: str, *, local: bool, texts: list[str], language: str, jsonl: bool, idle_timeout: float) -> int:
    provider = make_tracer_provider("glasses", instance=device)
    try:
        async with GlassesAgent(device, url, tracer_provider=provider) as agent:
            if local:
                await _provision_locally(agent, device)
            for item in texts:
                await agent.send_text(item, language=language)
            received = 0
            async for update in agent.updates(idle_timeout):
                received += 1
                if jsonl:
                    sys.stdout.write(update_json(update) + "\n")
                    sys.stdout.flush()
                else:
                    out.print(update_panel(update))
            return received
    except (OSError, nats.errors.NoServersError) as exc:
        raise _fail(f"cannot reach NATS at {url}: {exc or 'timed out'}") from None
    finally:
        provider.shutdown()


async def _provision_locally(agent: GlassesAgent, device: str) -> None:
    """Dev convenience for the local stack only: provision an unknown device."""
    assert agent.nc is not None
    registry = DeviceRegistry(agent.nc.jetstream())
    if not is_active(await registry.get(device)):
        await registry.add(device)
        err.print(f"[dim]provisioned device {device!r} in the local stack's registry[/dim]")


# ---------------------------------------------------------------- devices
async def _with_registry(server: str | None, state_dir: Path, action):
    url, _ = _server_url(server, state_dir)
    try:
        nc = await asyncio.wait_for(nats.connect(url, name="sightline-cli", connect_timeout=2), 10)
    except (OSError, nats.errors.NoServersError) as exc:
        raise _fail(f"cannot reach NATS at {url}: {exc or 'timed out'}") from None
    try:
        return await action(DeviceRegistry(nc.jetstream()))
    finally:
        await nc.drain()


Server = Annotated[str | None, typer.Option(help="Hub NATS URL; default: the local stack's.")]


@devices_app.command("add")
def devices_add(
    device: Annotated[str, typer.Argument(help="Device id.")],
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    target_language: Annotated[str, typer.Option(help="Default caption translation language.")] = "",
    server: Server = None,
    state_dir: StateDir = DEFAULT_STATE_DIR,
) -> None:
    """Provision a device (or re-activate a revoked one)."""
    try:
        check_device_id(device)
    except InvalidDeviceId as exc:
        raise _fail(str(exc), 2) from None
    record = asyncio.run(_with_registry(server, state_dir, lambda r: r.add(device, display_name=name, target_language=target_language)))
    out.print(f"device [bold]{record.device_id}[/bold] is active")


@devices_app.command("revoke")
def devices_revoke(device: str, server: Server = None, state_dir: StateDir = DEFAULT_STATE_DIR) -> None:
    """Revoke a device: services refuse its events from now on."""
    record = asyncio.run(_with_registry(server, state_dir, lambda r: r.revoke(device)))
    if record is None:
        raise _fail(f"no device {device!r}")
    out.print(f"device [bold]{device}[/bold] revoked")


@devices_app.command("list")
def devices_list(server: Server = None, state_dir: StateDir = DEFAULT_STATE_DIR) -> None:
    """List provisioned devices."""
    records = asyncio.run(_with_registry(server, state_dir, lambda r: r.list()))
    table = Table("device", "name", "status", "created")
    for record in records:
        table.add_row(
            record.device_id,
            record.display_name,
            DeviceStatus.Name(record.status).removeprefix("DEVICE_STATUS_").lower(),
            record.created_at.ToDatetime().isoformat(timespec="seconds"),
        )
    out.print(table)

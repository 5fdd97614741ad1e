"""`sightline up` and `sightline status`: the local stack."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from pathlib import Path
from typing import Annotated

import nats
import typer
from sightline_glasses.demo.runner import DEMO_DEVICE, play_demo
from sightline_glasses.demo.steps import NotifyIngress

from sightline_cli.console import DEFAULT_STATE, StateDir, err, fail, out
from sightline_cli.render import stack_table
from sightline_cli.security import LocalSecurity, provision_device
from sightline_cli.stack import SERVICES, StackInfo, StackNotRunning
from sightline_cli.supervisor import LocalIngress, Supervisor


def up(
    state_dir: StateDir = DEFAULT_STATE,
    service: Annotated[list[str] | None, typer.Option("--service", "-s", help="Run only these services (repeatable).")] = None,
    nats_port: Annotated[int, typer.Option(help="Preferred NATS port; a free one is used when it is taken.")] = 4222,
    ready_timeout: Annotated[float, typer.Option(help="Seconds to wait for every service to be ready.")] = 90.0,
    demo: Annotated[
        bool, typer.Option("--demo", help=f"Also run simulated glasses ({DEMO_DEVICE!r}) playing a scripted demo on their HUD page.")
    ] = False,
    hud_port: Annotated[int, typer.Option(min=0, max=65535, help="Port of the demo's HUD page (with --demo); 0 picks a free one.")] = 0,
) -> None:
    """Start nats-server and every service, supervise them until Ctrl-C or SIGTERM."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per readiness poll is noise
    chosen = tuple(service or SERVICES)
    unknown = sorted(set(chosen) - set(SERVICES))
    if unknown:
        raise fail(f"unknown service(s) {', '.join(unknown)}; choose from {', '.join(SERVICES)}")
    with contextlib.suppress(StackNotRunning):
        running = StackInfo.read(state_dir)
        raise fail(f"a stack is already running from {state_dir} (pid {running.supervisor_pid}, NATS {running.nats_url})")
    state_dir.mkdir(parents=True, exist_ok=True)
    asyncio.run(_up(state_dir.resolve(), chosen, nats_port, ready_timeout, demo_hud_port=hud_port if demo else None))


async def _up(state_dir: Path, services: tuple[str, ...], nats_port: int, ready_timeout: float, demo_hud_port: int | None = None) -> None:
    supervisor = Supervisor(state_dir=state_dir, services=services, nats_port=nats_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    with out.status("starting nats-server…"):
        nats_server = supervisor.start_nats()
    out.print(f"nats-server ready at [bold]{nats_server.url}[/bold] (JetStream in {nats_server.config.store_dir})")
    demo: asyncio.Task[None] | None = None
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
            if demo_hud_port is not None:
                demo = await _start_demo(nats_server.url, demo_hud_port, supervisor.security, supervisor.ingress)
        elif not stop.is_set():
            waiter.cancel()
            err.print(
                f"[yellow]not every service became ready in {ready_timeout:.0f}s; still supervising (logs: {state_dir / 'logs'})[/yellow]"
            )
            if supervisor.info is not None:
                err.print(stack_table(supervisor.info))
        await stop.wait()
    finally:
        if demo is not None:
            await _stop_demo(demo)
        with out.status("stopping…"):
            await supervisor.stop()
        out.print("stopped")


async def _start_demo(nats_url: str, hud_port: int, security: LocalSecurity, ingress: LocalIngress | None) -> asyncio.Task[None]:
    """Provision the demo device (and its credentials), then play the demo script on its HUD page in the background."""
    nc = await nats.connect(nats_url, name="sightline-demo-setup", user_credentials=str(security.creds.admin()))
    try:
        _, device_creds, _ = await provision_device(nc, security, DEMO_DEVICE, display_name="Demo glasses")
    finally:
        await nc.drain()

    def announce(url: str) -> None:
        out.print(f"demo HUD: {url}  (open it in a browser: the demo glasses play a scripted tour)", markup=False, soft_wrap=True)

    task = asyncio.create_task(
        play_demo(
            nats_url,
            hud_port=hud_port,
            on_hud=announce,
            device_credentials=str(device_creds),
            director_credentials=str(security.director_creds(DEMO_DEVICE)),
            # The demo's notification goes through the assistant's real ingress, with the local key.
            notify=NotifyIngress(ingress.url, ingress.key_file) if ingress else None,
        ),
        name="demo",
    )
    task.add_done_callback(_demo_ended)
    return task


def _demo_ended(task: asyncio.Task[None]) -> None:
    # The stack keeps running without its demo (say, the HUD port was taken).
    if not task.cancelled() and task.exception() is not None:
        err.print(f"the demo stopped: {task.exception()!r}", style="yellow", markup=False)


async def _stop_demo(task: asyncio.Task[None]) -> None:
    task.cancel()
    # A demo that failed was reported when it ended; stopping the stack goes on regardless.
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await asyncio.wait_for(task, 10)


def status(state_dir: StateDir = DEFAULT_STATE) -> None:
    """Show the running local stack."""
    try:
        info = StackInfo.read(state_dir)
    except StackNotRunning as exc:
        raise fail(str(exc)) from None
    out.print(stack_table(info))

"""`sightline devices`: provision, revoke and list devices."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import nats
import typer
from rich.table import Table
from sightline.v1.device_pb2 import DeviceStatus
from sightline_runtime.devices import DeviceRegistry
from sightline_runtime.subjects import InvalidDeviceId, check_device_id

from sightline_cli.console import DEFAULT_STATE, Server, StateDir, fail, out, server_url

app = typer.Typer(help="Provision and manage devices.", no_args_is_help=True)


async def _with_registry(server: str | None, state_dir: Path, action):
    url, _ = server_url(server, state_dir)
    try:
        nc = await asyncio.wait_for(nats.connect(url, name="sightline-cli", connect_timeout=2), 10)
    except (OSError, nats.errors.NoServersError) as exc:
        raise fail(f"cannot reach NATS at {url}: {exc or 'timed out'}") from None
    try:
        return await action(DeviceRegistry(nc.jetstream()))
    finally:
        await nc.drain()


@app.command("add")
def devices_add(
    device: Annotated[str, typer.Argument(help="Device id.")],
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    target_language: Annotated[str, typer.Option(help="Default caption translation language.")] = "",
    server: Server = None,
    state_dir: StateDir = DEFAULT_STATE,
) -> None:
    """Provision a device (or re-activate a revoked one)."""
    try:
        check_device_id(device)
    except InvalidDeviceId as exc:
        raise fail(str(exc), 2) from None
    record = asyncio.run(_with_registry(server, state_dir, lambda r: r.add(device, display_name=name, target_language=target_language)))
    out.print(f"device [bold]{record.device_id}[/bold] is active")


@app.command("revoke")
def devices_revoke(device: str, server: Server = None, state_dir: StateDir = DEFAULT_STATE) -> None:
    """Revoke a device: services refuse its events from now on."""
    record = asyncio.run(_with_registry(server, state_dir, lambda r: r.revoke(device)))
    if record is None:
        raise fail(f"no device {device!r}")
    out.print(f"device [bold]{device}[/bold] revoked")


@app.command("list")
def devices_list(server: Server = None, state_dir: StateDir = DEFAULT_STATE) -> None:
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

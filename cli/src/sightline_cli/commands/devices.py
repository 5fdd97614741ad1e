"""`sightline devices`: provision, revoke, list devices and read their audit trail.

`add` issues the device's own credentials (a NATS user JWT whose permissions
cover only its own subjects, docs/security.md) into
<state dir>/creds/devices/<id>.creds (0600; the path is printed, the secret
never), registers it and has the hub source its edge up-link. `revoke` cuts
it off: registry, credentials revoked on the hub (live connections closed),
file removed, source removed. `audit` prints what touched its camera and
microphone. `set` changes a device's settings (photos blurred or not, default
language, time zone, do-not-disturb); `show` prints one device's record.
"""

from __future__ import annotations

import asyncio
import functools
import zoneinfo
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sightline.v1.device_pb2 import AuditAction, AuditRecord, DeviceRecord, DeviceStatus
from sightline_runtime.audit import read_audit
from sightline_runtime.auth import ClaimsUpdateError
from sightline_runtime.devices import DeviceRegistry
from sightline_runtime.subjects import InvalidDeviceId, check_device_id

from sightline_cli.console import DEFAULT_STATE, Creds, Server, StateDir, connect_hub, fail, out
from sightline_cli.security import LocalSecurity, NotProvisioned, provision_device, revoke_device

app = typer.Typer(help="Provision and manage devices.", no_args_is_help=True)


def _device(device: str) -> str:
    try:
        return check_device_id(device)
    except InvalidDeviceId as exc:
        raise fail(str(exc), 2) from None


def _authority(state_dir: Path) -> LocalSecurity:
    security = LocalSecurity(state_dir)
    if not security.has_authority():
        raise fail(f"no signing keys under {state_dir / 'auth'}: provision from the state dir of the hub's `sightline up`")
    return security


# available_timezones() lists every file under the zoneinfo folders, and a
# system's folder holds a few that are not zones a wearer lives in.
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones()) - _NOT_ZONES


def _time_zone(name: str) -> str:
    """An IANA zone name as zoneinfo knows it ("" = UTC), else exit 2 saying so."""
    name = name.strip()
    if not name:
        return ""
    # Only names in the list: that refuses paths ("../etc/passwd") too, which zoneinfo would try to open.
    if name not in _zones():
        close = sorted(z for z in _zones() if z.lower() == name.lower() or z.rsplit("/", 1)[-1].lower() == name.lower())
        hint = f" (did you mean {', '.join(close[:3])}?)" if close else " (an IANA name such as Asia/Shanghai or Europe/Madrid)"
        raise fail(f"--time-zone {name!r} is not a known time zone{hint}", 2)
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise fail(f"--time-zone {name!r} cannot be loaded ({exc})", 2) from None
    return name


def _on_off(value: str | None, option: str) -> bool | None:
    if value is None:
        return None
    if value not in ("on", "off"):
        raise fail(f"{option} takes on or off, not {value!r}", 2)
    return value == "on"


@app.command("add")
def devices_add(
    device: Annotated[str, typer.Argument(help="Device id.")],
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    target_language: Annotated[str, typer.Option(help="Default caption translation language.")] = "",
    server: Server = None,
    creds: Creds = None,
    state_dir: StateDir = DEFAULT_STATE,
) -> None:
    """Provision a device (or re-activate a revoked one) and issue its credentials."""
    device = _device(device)
    security = _authority(state_dir)

    async def run():
        nc = await connect_hub(server, state_dir, creds)
        try:
            return await provision_device(nc, security, device, display_name=name, target_language=target_language)
        finally:
            await nc.drain()

    record, path, issued = asyncio.run(run())
    out.print(f"device [bold]{record.device_id}[/bold] is active")
    out.print(f"credentials {'written to' if issued else 'kept in'} {path} (mode 0600)", markup=False, soft_wrap=True)


@app.command("set")
def devices_set(
    device: Annotated[str, typer.Argument(help="Device id.")],
    photos: Annotated[
        str | None,
        typer.Option(
            "--photos",
            help="'blurred' (the default: vision blurs bystanders' faces before a photo is stored) or 'unblurred' "
            "(the wearer opted in to keeping faces as taken).",
        ),
    ] = None,
    target_language: Annotated[str | None, typer.Option(help="Default caption and label translation language.")] = None,
    time_zone: Annotated[
        str | None,
        typer.Option("--time-zone", help="The wearer's IANA time zone, e.g. Asia/Shanghai ('' = UTC); reminders follow it."),
    ] = None,
    do_not_disturb: Annotated[
        str | None, typer.Option("--do-not-disturb", help="on: only urgent notifications and reminders interrupt; off: all do.")
    ] = None,
    server: Server = None,
    creds: Creds = None,
    state_dir: StateDir = DEFAULT_STATE,
) -> None:
    """Change a provisioned device's settings."""
    device = _device(device)
    if photos not in (None, "blurred", "unblurred"):
        raise fail(f"--photos takes blurred or unblurred, not {photos!r}", 2)
    zone = None if time_zone is None else _time_zone(time_zone)
    quiet = _on_off(do_not_disturb, "--do-not-disturb")
    if photos is None and target_language is None and zone is None and quiet is None:
        raise fail("nothing to change: give --photos, --target-language, --time-zone and/or --do-not-disturb", 2)

    def change(record) -> bool:
        if photos is not None:
            record.keep_unblurred_photos = photos == "unblurred"
        if target_language is not None:
            record.default_target_language = target_language
        if zone is not None:
            record.time_zone = zone
        if quiet is not None:
            record.do_not_disturb = quiet
        return True

    async def run() -> bool:
        nc = await connect_hub(server, state_dir, creds)
        try:
            registry = DeviceRegistry(nc.jetstream())
            if await registry.get(device) is None:
                return False
            return await registry.update(device, change)
        finally:
            await nc.drain()

    if not asyncio.run(run()):
        raise fail(f"device {device!r} is not provisioned (sightline devices add {device})")
    if photos is not None:
        out.print(f"device [bold]{device}[/bold]: photos stored {photos}")
    if target_language is not None:
        out.print(f"device [bold]{device}[/bold]: default language {target_language or '(none)'}")
    if zone is not None:
        out.print(f"device [bold]{device}[/bold]: time zone {zone or 'UTC'}")
    if quiet is not None:
        out.print(f"device [bold]{device}[/bold]: do-not-disturb {'on' if quiet else 'off'}")


@app.command("show")
def devices_show(
    device: Annotated[str, typer.Argument(help="Device id.")],
    server: Server = None,
    creds: Creds = None,
    state_dir: StateDir = DEFAULT_STATE,
) -> None:
    """Print one device's record: status, privacy and its settings."""
    device = _device(device)

    async def run() -> DeviceRecord | None:
        nc = await connect_hub(server, state_dir, creds)
        try:
            return await DeviceRegistry(nc.jetstream()).get(device)
        finally:
            await nc.drain()

    record = asyncio.run(run())
    if record is None:
        raise fail(f"device {device!r} is not provisioned (sightline devices add {device})")
    table = Table("setting", "value", title=f"device {device}", show_header=False)
    for name, value in _fields(record):
        table.add_row(name, value)
    out.print(table)


def _status(record: DeviceRecord) -> str:
    return DeviceStatus.Name(record.status).removeprefix("DEVICE_STATUS_").lower()


def _fields(record: DeviceRecord) -> list[tuple[str, str]]:
    return [
        ("name", record.display_name),
        ("status", _status(record)),
        ("privacy", "on" if record.privacy.enabled else "off"),
        ("photos", "unblurred" if record.keep_unblurred_photos else "blurred"),
        ("default language", record.default_target_language or "(none)"),
        ("time zone", record.time_zone or "UTC"),
        ("do-not-disturb", "on" if record.do_not_disturb else "off"),
        ("credentials", "issued" if record.public_key else "none"),
        ("created", record.created_at.ToDatetime().isoformat(timespec="seconds")),
    ]


@app.command("revoke")
def devices_revoke(device: str, server: Server = None, creds: Creds = None, state_dir: StateDir = DEFAULT_STATE) -> None:
    """Revoke a device: its credentials stop working at once, services refuse its events."""
    device = _device(device)
    security = _authority(state_dir)

    async def run():
        nc = await connect_hub(server, state_dir, creds)
        system = await connect_hub(server, state_dir, security.creds.system(), name="sightline-cli-system")
        try:
            return await revoke_device(nc, system, security, device)
        finally:
            await system.drain()
            await nc.drain()

    try:
        asyncio.run(run())
    except NotProvisioned as exc:
        raise fail(str(exc)) from None
    except ClaimsUpdateError as exc:
        raise fail(str(exc)) from None
    out.print(f"device [bold]{device}[/bold] revoked: credentials invalidated, live connections closed")


@app.command("list")
def devices_list(server: Server = None, creds: Creds = None, state_dir: StateDir = DEFAULT_STATE) -> None:
    """List provisioned devices."""

    async def run():
        nc = await connect_hub(server, state_dir, creds)
        try:
            return await DeviceRegistry(nc.jetstream()).list()
        finally:
            await nc.drain()

    records = asyncio.run(run())
    table = Table("device", "name", "status", "privacy", "time zone", "dnd", "created")
    for record in records:
        table.add_row(
            record.device_id,
            record.display_name,
            _status(record),
            "on" if record.privacy.enabled else "off",
            record.time_zone or "UTC",
            "on" if record.do_not_disturb else "off",
            record.created_at.ToDatetime().isoformat(timespec="seconds"),
        )
    out.print(table)


@app.command("audit")
def devices_audit(
    device: Annotated[str, typer.Argument(help="Device id.")],
    limit: Annotated[int, typer.Option(min=1, help="Show at most this many of the newest records.")] = 200,
    server: Server = None,
    creds: Creds = None,
    state_dir: StateDir = DEFAULT_STATE,
) -> None:
    """Print the device's audit trail: every camera and microphone access, privacy mode changes."""
    device = _device(device)

    async def run() -> list[AuditRecord]:
        nc = await connect_hub(server, state_dir, creds)
        try:
            return await read_audit(nc.jetstream(), device, limit=limit)
        finally:
            await nc.drain()

    records = asyncio.run(run())
    table = Table("time", "action", "service", "reference", "detail", title=f"audit trail of {device}")
    for record in records:
        table.add_row(
            record.meta.created_at.ToDatetime().isoformat(timespec="milliseconds"),
            AuditAction.Name(record.action).removeprefix("AUDIT_ACTION_").lower(),
            record.service,
            record.reference_id,
            record.detail,
        )
    out.print(table)
    if not records:
        out.print(f"no audit records for {device}")

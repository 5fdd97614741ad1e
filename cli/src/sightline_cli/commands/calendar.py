"""`sightline calendar import`: load a device's schedule from an .ics file.

Sends the file as it is (ImportCalendarRequest on assistant.rpc.import_calendar);
the assistant reads it whole before it changes the schedule, so a malformed
file is refused with its line and reason and nothing is lost.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from sightline.v1.assistant_pb2 import ImportCalendarRequest, ImportCalendarResponse
from sightline_runtime import subjects
from sightline_runtime.subjects import InvalidDeviceId

from sightline_cli.assistant_requests import IMPORT_CALENDAR, ask
from sightline_cli.console import DEFAULT_STATE, Creds, Server, StateDir, connect_hub, err, fail, out

app = typer.Typer(help="A device's schedule (iCalendar files).", no_args_is_help=True)

# The request's own fields besides the file.
_OVERHEAD = 1024


async def _send(server, state_dir, creds, request: ImportCalendarRequest, wait_s: float) -> ImportCalendarResponse:
    nc = await connect_hub(server, state_dir, creds)
    try:
        if len(request.ics) + _OVERHEAD > nc.max_payload:
            raise fail(f"the file is {len(request.ics):,} bytes; the hub takes at most {nc.max_payload - _OVERHEAD:,} in one request", 2)
        return await ask(nc, IMPORT_CALENDAR, request, ImportCalendarResponse, wait_s)
    finally:
        await nc.drain()


@app.command("import")
def calendar_import(
    file: Annotated[Path, typer.Argument(help="The .ics file (an export of Google Calendar, Outlook, Apple Calendar…).")],
    device: Annotated[str, typer.Option("--device", "-d", help="Device id whose schedule to load.")],
    replace: Annotated[bool, typer.Option("--replace", help="Replace the device's schedule instead of merging by event UID.")] = False,
    server: Server = None,
    creds: Creds = None,
    state_dir: StateDir = DEFAULT_STATE,
    timeout: Annotated[float, typer.Option("--timeout", min=0.1, help="Seconds to wait for the assistant.")] = 30.0,
) -> None:
    """Load an .ics file into a device's schedule (merged by event UID, or --replace)."""
    try:
        subjects.check_device_id(device)
    except InvalidDeviceId as exc:
        raise fail(str(exc), 2) from None
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise fail(f"cannot read {file}: {exc.strerror or exc}", 2) from None
    if not data.strip():
        raise fail(f"{file} is empty", 2)
    err.print(f"sending {file.name} ({len(data):,} bytes) to the assistant for {device} ({'replace' if replace else 'merge'})…")
    response = asyncio.run(_send(server, state_dir, creds, ImportCalendarRequest(device_id=device, ics=data, replace=replace), timeout))
    plural = "s" if response.imported != 1 else ""
    out.print(f"[bold]{response.imported}[/bold] event{plural} loaded into {device}'s schedule, {response.skipped} skipped")
    for warning in response.warnings:
        out.print(f"  [yellow]warning:[/yellow] {warning}", highlight=False)

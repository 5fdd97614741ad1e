"""Shared terminal output and options of the `sightline` commands."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import nats
import typer
from rich.console import Console

from sightline_cli.stack import DEFAULT_STATE_DIR, StackInfo, StackNotRunning

out = Console()
err = Console(stderr=True)

StateDir = Annotated[Path, typer.Option("--state-dir", help="Where the local stack keeps its data and stack.json.")]
Server = Annotated[str | None, typer.Option(help="Hub NATS URL; default: the local stack's (stack.json).")]
Creds = Annotated[
    Path | None, typer.Option("--creds", help="NATS credentials file; default: the local stack's admin credentials (<state dir>/creds).")
]
DEFAULT_STATE = DEFAULT_STATE_DIR


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


def server_url(server: str | None, state_dir: Path) -> tuple[str, bool]:
    """(NATS URL, whether it is the local stack from stack.json)."""
    if server:
        return server, False
    try:
        return StackInfo.read(state_dir).nats_url, True
    except StackNotRunning as exc:
        raise fail(str(exc)) from None


def admin_credentials(state_dir: Path, creds: Path | None) -> str | None:
    """The credentials to reach the hub as admin: --creds, else the local stack's."""
    if creds is not None:
        if not creds.is_file():
            raise fail(f"no credentials file {creds}", 2)
        return str(creds)
    local = state_dir / "creds" / "admin.creds"
    return str(local) if local.is_file() else None


async def _quiet(err: Exception) -> None:
    """A refused connection is reported once, by the command, not as a traceback."""


async def connect_hub(server: str | None, state_dir: Path, creds: Path | None = None, *, name: str = "sightline-cli", **options: Any):
    """A NATS connection to the hub as admin (or as `creds`), failing with a clear message."""
    url, _ = server_url(server, state_dir)
    credentials = admin_credentials(state_dir, creds)
    options.setdefault("error_cb", _quiet)
    if credentials:
        options["user_credentials"] = credentials
    try:
        return await asyncio.wait_for(nats.connect(url, name=name, connect_timeout=2, allow_reconnect=False, **options), 10)
    except (OSError, TimeoutError, nats.errors.NoServersError) as exc:
        raise fail(f"cannot reach NATS at {url}: {exc or 'timed out'}") from None
    except nats.errors.Error as exc:
        hint = "" if credentials else " (the hub requires credentials: pass --creds)"
        raise fail(f"NATS at {url} refused the connection: {exc}{hint}") from None

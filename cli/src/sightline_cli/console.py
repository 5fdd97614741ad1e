"""Shared terminal output and options of the `sightline` commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from sightline_cli.stack import DEFAULT_STATE_DIR, StackInfo, StackNotRunning

out = Console()
err = Console(stderr=True)

StateDir = Annotated[Path, typer.Option("--state-dir", help="Where the local stack keeps its data and stack.json.")]
Server = Annotated[str | None, typer.Option(help="Hub NATS URL; default: the local stack's (stack.json).")]
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

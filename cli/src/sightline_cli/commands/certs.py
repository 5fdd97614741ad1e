"""`sightline certs init`: the development CA and the hub's leafnode certificate."""

from __future__ import annotations

from typing import Annotated

import typer

from sightline_cli import tls
from sightline_cli.console import DEFAULT_STATE, StateDir, out

app = typer.Typer(help="TLS for the leaf link between the glasses and the hub.", no_args_is_help=True)


@app.command("init")
def certs_init(
    host: Annotated[list[str] | None, typer.Option("--host", help="Extra DNS name or IP of the hub (repeatable).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace existing files (the glasses must then trust the new CA).")] = False,
    state_dir: StateDir = DEFAULT_STATE,
) -> None:
    """Create a dev CA and a hub certificate (localhost, 127.0.0.1, --host ...) under <state dir>/tls.
    `sightline up` serves its leafnode port with them (and creates them if missing)."""
    root = state_dir / "tls"
    existed = tls.TlsFiles(root).exist()
    files = tls.create(root, hosts=host or [], force=force)
    verb = "kept" if existed and not force else "written"
    out.print(f"CA {verb}: {files.ca}  (the glasses verify the hub with it)", markup=False, soft_wrap=True)
    out.print(f"hub certificate {verb}: {files.cert}, key {files.key} (mode 0600)", markup=False, soft_wrap=True)

"""`sightline glossary`: a device's translation glossary (terms translated its way).

Entries live in the JetStream KV bucket "glossary"; the translation service
follows changes within moments, no restart needed.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sightline_runtime.glossary import GlossaryError, GlossaryStore
from sightline_runtime.languages import InvalidLanguage
from sightline_runtime.subjects import InvalidDeviceId

from sightline_cli.console import DEFAULT_STATE, Server, StateDir, connect_hub, fail, out

app = typer.Typer(help="Manage a device's translation glossary.", no_args_is_help=True)

Source = Annotated[str, typer.Option("--from", help="Language of the term (BCP-47).")]
Target = Annotated[str, typer.Option("--to", help="Language of the translation (BCP-47).")]


async def _with_glossary(server: str | None, state_dir: Path, action):
    nc = await connect_hub(server, state_dir)
    try:
        return await action(GlossaryStore(nc.jetstream()))
    finally:
        await nc.drain()


def _run(server: str | None, state_dir: Path, action):
    try:
        return asyncio.run(_with_glossary(server, state_dir, action))
    except (GlossaryError, InvalidLanguage, InvalidDeviceId) as exc:
        raise fail(str(exc), 2) from None


@app.command("add")
def glossary_add(
    device: Annotated[str, typer.Argument(help="Device id.")],
    term: Annotated[str, typer.Argument(help="The term as it is said or written.")],
    translation: Annotated[str, typer.Argument(help="How to translate it.")],
    source: Source = "en",
    target: Target = "es",
    server: Server = None,
    state_dir: StateDir = DEFAULT_STATE,
) -> None:
    """Add or replace a term (matched case-insensitively, whole words for Latin scripts)."""
    entry = _run(server, state_dir, lambda g: g.add(device, source, target, term, translation))
    pair = f"{entry.source_language}->{entry.target_language}"
    out.print(f"{device} ({pair}): [bold]{entry.term}[/bold] -> [bold]{entry.translation}[/bold]")


@app.command("remove")
def glossary_remove(
    device: Annotated[str, typer.Argument(help="Device id.")],
    term: Annotated[str, typer.Argument(help="The term to remove.")],
    source: Source = "en",
    target: Target = "es",
    server: Server = None,
    state_dir: StateDir = DEFAULT_STATE,
) -> None:
    """Remove a term."""
    if not _run(server, state_dir, lambda g: g.remove(device, source, target, term)):
        raise fail(f"{device} has no {source}->{target} term {term!r}")
    out.print(f"{device}: removed [bold]{term}[/bold]")


@app.command("list")
def glossary_list(
    device: Annotated[str, typer.Argument(help="Device id.")],
    server: Server = None,
    state_dir: StateDir = DEFAULT_STATE,
) -> None:
    """List a device's terms."""
    entries = _run(server, state_dir, lambda g: g.list(device))
    table = Table("from", "to", "term", "translation")
    for entry in entries:
        table.add_row(entry.source_language, entry.target_language, entry.term, entry.translation)
    out.print(table)

"""`sightline transcript`: a device's transcript in full, as Markdown, JSON or SubRip.

Pages through GetTranscript (assistant.rpc.get_transcript) until the last
page, then writes every line whole: the HUD cuts a long utterance to '…'
and its last two lines, the transcript never does.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from sightline.v1.assistant_pb2 import GetTranscriptRequest, GetTranscriptResponse
from sightline_runtime import subjects
from sightline_runtime.subjects import InvalidDeviceId
from sightline_runtime.transcript_format import FORMATS, PlainLine, from_proto, render

from sightline_cli.assistant_requests import GET_TRANSCRIPT, ask
from sightline_cli.commands.photos import parse_moment
from sightline_cli.console import DEFAULT_STATE, Creds, Server, StateDir, connect_hub, err, fail

PAGE = 200
# A transcript longer than this many pages is a loop (a service handing back the same token), not a transcript.
MAX_PAGES = 100_000


def _local_zone() -> dt.tzinfo:
    return dt.datetime.now().astimezone().tzinfo or dt.UTC


async def fetch(nc, device: str, since: dt.datetime | None, wait_s: float, page: int = PAGE) -> list[PlainLine]:
    """Every line of the device's transcript (from `since`), in time order."""
    lines: list[PlainLine] = []
    token = ""
    for _ in range(MAX_PAGES):
        request = GetTranscriptRequest(device_id=device, limit=page, page_token=token)
        if since is not None:
            request.since.FromDatetime(since)
        response = await ask(nc, GET_TRANSCRIPT, request, GetTranscriptResponse, wait_s)
        lines.extend(from_proto(line) for line in response.lines)
        if not response.next_page_token:
            return lines
        if response.next_page_token == token:
            raise fail("the assistant handed back the same page token twice; stopping")
        token = response.next_page_token
    raise fail(f"the transcript goes on past {MAX_PAGES} pages; narrow it with --since")


async def _read(server, state_dir, creds, device, since, wait_s) -> list[PlainLine]:
    nc = await connect_hub(server, state_dir, creds)
    try:
        return await fetch(nc, device, since, wait_s)
    finally:
        await nc.drain()


def transcript(
    device: Annotated[str, typer.Option("--device", "-d", help="Device id whose transcript to read.")],
    since: Annotated[
        str | None,
        typer.Option(help="Only utterances that ended at or after: ISO 8601 (local time unless it says) or an age (90m, 12h, 7d)."),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="md (Markdown), json, or srt (SubRip subtitles).")] = "md",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file instead of standard output.")] = None,
    server: Server = None,
    creds: Creds = None,
    state_dir: StateDir = DEFAULT_STATE,
    timeout: Annotated[float, typer.Option("--timeout", min=0.1, help="Seconds to wait for each page.")] = 10.0,
) -> None:
    """A device's transcript in full: every final utterance with its translation."""
    if fmt not in FORMATS:
        raise fail(f"unknown format {fmt!r}: one of {', '.join(FORMATS)}", 2)
    try:
        subjects.check_device_id(device)
    except InvalidDeviceId as exc:
        raise fail(str(exc), 2) from None
    moment = parse_moment(since) if since is not None else None
    lines = asyncio.run(_read(server, state_dir, creds, device, moment, timeout))
    text = render(lines, fmt, title=f"Transcript of {device}", zone=_local_zone())
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
    err.print(f"{len(lines)} utterance{'s' if len(lines) != 1 else ''} of {device}" + (f" written to {output}" if output else ""))

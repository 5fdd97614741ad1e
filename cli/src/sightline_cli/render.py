"""How display updates and the stack look in a terminal."""

from __future__ import annotations

import json

from google.protobuf.json_format import MessageToDict
from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from sightline.v1.display_pb2 import DisplayUpdate, HudRegion

from sightline_cli.stack import StackInfo


def update_json(update: DisplayUpdate) -> str:
    """One line of protobuf JSON (the canonical JSON mapping of the message)."""
    return json.dumps(MessageToDict(update), ensure_ascii=False, separators=(",", ":"))


def update_panel(update: DisplayUpdate) -> Panel:
    region = HudRegion.Name(update.region).removeprefix("HUD_REGION_").lower()
    kind = update.WhichOneof("content") or "empty"
    lines: list[str] = []
    if kind == "panel":
        lines = list(update.panel.text.lines)
    elif kind == "caption":
        for entry in update.caption.entries:
            lines += list(entry.source.lines) + [f"  {line}" for line in entry.translation.lines]
    elif kind == "card":
        lines = list(update.card.title.lines) + list(update.card.body.lines)
    elif kind == "labels":
        lines = [" / ".join(label.text.lines) for label in update.labels.labels]
    elif kind == "status":
        lines = [f"online={update.status.online} queued={update.status.queued} privacy={update.status.privacy_mode}"]
    body = Group(*(Text(line) for line in lines)) if lines else Text("(cleared)", style="dim")
    return Panel(body, title=f"HUD {region}", subtitle=f"v{update.region_version}", expand=False)


def stack_table(info: StackInfo) -> Table:
    table = Table(title=f"Sightline stack — NATS {info.nats_url}")
    for column in ("service", "state", "pid", "metrics", "restarts"):
        table.add_column(column)
    styles = {"ready": "green", "starting": "yellow", "backoff": "red", "stopped": "dim"}
    for name, entry in info.services.items():
        table.add_row(name, Text(entry.state, style=styles.get(entry.state, "")), str(entry.pid), entry.metrics_url, str(entry.restarts))
    return table

"""Typed text from the wearer becomes a panel on the HUD."""

from __future__ import annotations

from sightline.v1.device_pb2 import HudProfile
from sightline.v1.display_pb2 import DisplayUpdate, HudRegion, Panel, TextBlock

from sightline_overlay.domain.hud import region_box
from sightline_overlay.domain.textwrap import fit, wrap


def text_block(text: str, language: str, *, columns: int, rows: int) -> TextBlock:
    lines, truncated = fit(wrap(text, columns), rows, columns)
    return TextBlock(lines=lines, language=language, truncated=truncated)


def panel_update(text: str, language: str, hud: HudProfile, *, ttl_ms: int) -> DisplayUpdate:
    """The display update for a text panel; the caller sets meta and version."""
    box = region_box(HudRegion.HUD_REGION_PANEL, hud)
    update = DisplayUpdate(region=HudRegion.HUD_REGION_PANEL, ttl_ms=ttl_ms)
    update.bounds.CopyFrom(box.rect)
    update.panel.CopyFrom(Panel(text=text_block(text, language, columns=box.columns, rows=box.rows)))
    return update

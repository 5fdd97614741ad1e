"""The HUD page: the glasses display, live in a local browser tab."""

from sightline_glasses.hud.server import HudServer

__all__ = ["HudServer"]

"""Wiring of the overlay service (the only place that touches the broker)."""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter
from sightline_runtime.service import Resources, Service

from sightline_overlay.bus import SURFACE
from sightline_overlay.handlers import OverlayHandlers
from sightline_overlay.settings import OverlaySettings


def create_service(settings: OverlaySettings | None = None, **service_options: Any) -> Service:
    settings = settings or OverlaySettings()

    async def build(resources: Resources) -> OverlayHandlers:
        display_updates = Counter(
            "sightline_overlay_display_updates_total",
            "Display updates sent to glasses, by HUD region",
            ["region"],
            registry=resources.metrics.registry,
        )
        return OverlayHandlers(resources.publisher, settings, display_updates)

    return Service(SURFACE, settings, build, **service_options)


def main() -> None:
    create_service().run()

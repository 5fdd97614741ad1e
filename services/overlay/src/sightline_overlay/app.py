"""Wiring of the overlay service (the only place that touches the broker)."""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter
from sightline_runtime.service import Resources, Service

from sightline_overlay.bus import SURFACE
from sightline_overlay.handlers import OverlayHandlers
from sightline_overlay.metrics import CardMetrics, LabelMetrics
from sightline_overlay.recall import StreamRecall
from sightline_overlay.settings import OverlaySettings


def create_service(settings: OverlaySettings | None = None, **service_options: Any) -> Service:
    settings = settings or OverlaySettings()
    unwatched = set(settings.caption_presence_services) - set(SURFACE.watches)
    if unwatched:
        raise ValueError(f"overlay follows the presence of {SURFACE.watches} only (bus.py), not {sorted(unwatched)}")

    async def build(resources: Resources) -> OverlayHandlers:
        display_updates = Counter(
            "sightline_overlay_display_updates_total",
            "Display updates sent to glasses, by HUD region",
            ["region"],
            registry=resources.metrics.registry,
        )
        handlers = OverlayHandlers(
            resources.publisher,
            settings,
            display_updates,
            presence=resources.presence,
            devices=resources.devices,
            label_metrics=LabelMetrics.register(resources.metrics.registry),
            recall=StreamRecall(resources.js) if resources.js is not None else None,
            card_metrics=CardMetrics.register(resources.metrics.registry),
        )
        if resources.presence is not None:  # None in memory (TestNatsBroker): no notices there
            # The loop that tells devices when captions come and go, and when translations are late.
            handlers.start()
        # Also ends the labels' translation deadlines.
        resources.on_shutdown(handlers.close)
        return handlers

    return Service(SURFACE, settings, build, **service_options)


def main() -> None:
    create_service().run()

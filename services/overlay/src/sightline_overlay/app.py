"""Wiring of the overlay service (the only place that touches the broker)."""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter
from sightline.v1.input_pb2 import DeviceInput
from sightline_runtime.consumer import HandlerSpec
from sightline_runtime.service import Service
from sightline_runtime.streams import GLASSES_UP, OVERLAY_INPUT

from sightline_overlay.handlers import SERVICE, OverlayHandlers
from sightline_overlay.settings import OverlaySettings


def create_service(settings: OverlaySettings | None = None, **service_options: Any) -> Service:
    settings = settings or OverlaySettings()
    service = Service(SERVICE, settings, streams=[GLASSES_UP], **service_options)
    display_updates = Counter(
        "sightline_overlay_display_updates_total",
        "Display updates sent to glasses, by HUD region",
        ["region"],
        registry=service.metrics.registry,
    )
    handlers = OverlayHandlers(service.publisher, settings, display_updates)
    service.subscribe(HandlerSpec("device_input", DeviceInput, consumer=OVERLAY_INPUT), handlers.on_device_input)
    return service


def main() -> None:
    create_service().run()

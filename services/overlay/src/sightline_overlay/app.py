"""Wiring of the overlay service (the only place that touches the broker)."""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter
from sightline.v1.asr_pb2 import Transcript
from sightline.v1.input_pb2 import DeviceInput
from sightline.v1.translation_pb2 import Translation
from sightline_runtime import subjects
from sightline_runtime.consumer import HandlerSpec
from sightline_runtime.service import Service
from sightline_runtime.streams import ASR, GLASSES_UP, OVERLAY_ASR_FINALS, OVERLAY_INPUT, OVERLAY_TRANSLATION_FINALS, TRANSLATION

from sightline_overlay.handlers import SERVICE, OverlayHandlers
from sightline_overlay.settings import OverlaySettings


def create_service(settings: OverlaySettings | None = None, **service_options: Any) -> Service:
    settings = settings or OverlaySettings()
    service = Service(SERVICE, settings, streams=[GLASSES_UP, ASR, TRANSLATION], **service_options)
    display_updates = Counter(
        "sightline_overlay_display_updates_total",
        "Display updates sent to glasses, by HUD region",
        ["region"],
        registry=service.metrics.registry,
    )
    handlers = OverlayHandlers(service.publisher, settings, display_updates)
    service.subscribe(HandlerSpec("device_input", DeviceInput, consumer=OVERLAY_INPUT, dedup=True), handlers.on_device_input)
    # Captions: partials on core NATS (latest-wins, never replayed), finals from JetStream.
    service.subscribe(
        HandlerSpec("asr_partial", Transcript, subject=subjects.domain_all("asr", "partial")),
        handlers.on_transcript,
    )
    service.subscribe(HandlerSpec("asr_final", Transcript, consumer=OVERLAY_ASR_FINALS), handlers.on_transcript)
    service.subscribe(
        HandlerSpec("translation_partial", Translation, subject=subjects.domain_all("translation", "partial")),
        handlers.on_translation,
    )
    service.subscribe(HandlerSpec("translation_final", Translation, consumer=OVERLAY_TRANSLATION_FINALS), handlers.on_translation)
    return service


def main() -> None:
    create_service().run()

"""Wiring of the vision service (the only place that touches the broker).

It starts, declares its stream, reports health and exports metrics; its
handlers arrive with the issue that builds the vision capability.
"""

from __future__ import annotations

from typing import Any

from sightline_runtime.service import Service
from sightline_runtime.streams import VISION

from sightline_vision.settings import VisionSettings

SERVICE = "vision"


def create_service(settings: VisionSettings | None = None, **service_options: Any) -> Service:
    return Service(SERVICE, settings or VisionSettings(), streams=[VISION], **service_options)


def main() -> None:
    create_service().run()

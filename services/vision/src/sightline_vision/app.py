"""Wiring of the vision service (the only place that touches the broker).

So far vision runs the photo intake: photo notices from the glasses'
up-link name the chunks they uploaded to the hub's object store; vision
verifies them, writes the object and announces it as PhotoStored. OCR and
tagging arrive with the issue that builds them.
"""

from __future__ import annotations

from typing import Any

from sightline_runtime.service import Resources, Service
from sightline_runtime.streams import PHOTOS

from sightline_vision.bus import SURFACE
from sightline_vision.intake import PhotoIntake
from sightline_vision.settings import VisionSettings


def create_service(settings: VisionSettings | None = None, **service_options: Any) -> Service:
    settings = settings or VisionSettings()

    async def build(resources: Resources) -> PhotoIntake:
        assert resources.js is not None, "the photo intake reads the object store in JetStream"
        return PhotoIntake(resources.publisher, settings, resources.js, resources.object_stores[PHOTOS.name])

    return Service(SURFACE, settings, build, **service_options)


def main() -> None:
    create_service().run()

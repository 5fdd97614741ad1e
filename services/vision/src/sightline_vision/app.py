"""Wiring of the vision service (the only place that touches the broker).

So far vision runs the photo intake: photo notices from the glasses'
up-link name the chunks they uploaded to the hub's object store; vision
verifies them, writes the object and announces it as PhotoStored. OCR and tagging arrive with the issue that builds them.
"""

from __future__ import annotations

from typing import Any

from sightline.v1.vision_pb2 import PhotoCaptured
from sightline_runtime.consumer import HandlerSpec
from sightline_runtime.privacy import Sensor
from sightline_runtime.service import Service
from sightline_runtime.streams import GLASSES_UP, PHOTOS, VISION, VISION_PHOTO_INTAKE, ensure_object_store

from sightline_vision.intake import SERVICE, PhotoIntake
from sightline_vision.settings import VisionSettings

DAY_S = 24 * 3600.0


def create_service(settings: VisionSettings | None = None, **service_options: Any) -> Service:
    settings = settings or VisionSettings()
    service = Service(SERVICE, settings, streams=[GLASSES_UP, VISION], **service_options)
    intake = PhotoIntake(service.publisher, settings)

    @service.on_startup
    async def open_photo_store() -> None:
        js = service.broker.connection.jetstream()
        intake.js = js
        intake.store = await ensure_object_store(
            js,
            PHOTOS,
            ttl_s=settings.photo_retention_days * DAY_S,
            max_bytes=settings.photo_store_max_bytes,
            replicas=settings.stream_replicas,
        )

    service.readiness.add("photo_store", lambda: intake.store is not None)
    # Notices can arrive twice (an edge re-sends after a crash, days later): the inbox drops copies.
    # Camera data: while the device's privacy mode is on the guard drops the notice and the photo is deleted.
    spec = HandlerSpec(
        "photo_intake", PhotoCaptured, consumer=VISION_PHOTO_INTAKE, dedup=True, sensor=Sensor.CAMERA, on_privacy_drop=intake.discard
    )
    service.subscribe(spec, intake.on_photo_captured)
    return service


def main() -> None:
    create_service().run()

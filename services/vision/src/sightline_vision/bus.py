"""The vision service's bus surface: photo notices in, stored (and, by
default, face-blurred) photos and what vision saw in them out; the photo
library's per-device requests; it owns the photos' retention."""

from __future__ import annotations

from sightline.v1.vision_pb2 import (
    DeletePhotoRequest,
    DeletePhotoResponse,
    GetPhotoRequest,
    GetPhotoResponse,
    PhotoCaptured,
    PhotoStored,
    SearchPhotosRequest,
    SearchPhotosResponse,
    VisionResult,
)
from sightline_runtime import subjects
from sightline_runtime.admission import PHOTO_NOTICES
from sightline_runtime.consumer import HandlerSpec
from sightline_runtime.privacy import Sensor
from sightline_runtime.streams import DAY, PHOTOS, ConsumerSpec, StreamSpec
from sightline_runtime.surface import BusSurface, OwnedStream, Publish, Serve, Subscribe, UseObjectStore

SERVICE = "vision"

VISION = StreamSpec(
    name="VISION",
    subjects=(subjects.domain_all("photo", "stored"), subjects.domain_all("vision", "result")),
    description="Stored photos and what the vision service saw in them",
)

SURFACE = BusSurface(
    service=SERVICE,
    description="verifies and stores the photos the glasses upload, and announces them",
    subscribes=(
        # Notices can arrive twice (an edge re-sends after a crash, days later): the inbox drops copies.
        # Camera data: while the device's privacy mode is on the guard drops the notice and the photo is deleted.
        Subscribe(
            HandlerSpec(
                "photo_intake",
                PhotoCaptured,
                consumer=ConsumerSpec(
                    "vision-photo-intake",
                    subjects.UP_PHOTO_ALL,
                    "vision: photo notices to check against the object store and announce as PhotoStored",
                ),
                dedup=True,
                sensor=Sensor.CAMERA,
                admission=PHOTO_NOTICES,
            ),
            "on_photo_captured",
            on_privacy_drop="discard",
        ),
        # Stored photos to analyse (OCR, tags, codes), each once: a crash mid-photo redelivers it.
        Subscribe(
            HandlerSpec(
                "photo_analysis",
                PhotoStored,
                consumer=ConsumerSpec(
                    "vision-photo-analysis",
                    subjects.domain_all("photo", "stored"),
                    "vision: stored photos to read (text, tags, codes), index and announce as VisionResult",
                ),
                dedup=True,
                sensor=Sensor.CAMERA,
                # Photos are independent: two analyses at once (one per worker thread; more would only queue).
                ordered=False,
                max_workers=2,
            ),
            "on_photo_stored",
        ),
    ),
    publishes=(
        Publish(subjects.domain_all("photo", "stored"), PhotoStored, VISION, description="a verified photo in the object store"),
        Publish(subjects.domain_all("vision", "result"), VisionResult, VISION, description="what vision saw in a photo"),
    ),
    streams=(OwnedStream(VISION),),
    # The photo library, per device: the subject's device token is the only device a request can name.
    serves=(
        Serve(
            subjects.device_request_all(SERVICE, "search_photos"),
            SearchPhotosRequest,
            SearchPhotosResponse,
            "search_photos",
            per_device=True,
        ),
        Serve(subjects.device_request_all(SERVICE, "get_photo"), GetPhotoRequest, GetPhotoResponse, "get_photo", per_device=True),
        Serve(
            subjects.device_request_all(SERVICE, "delete_photo"), DeletePhotoRequest, DeletePhotoResponse, "delete_photo", per_device=True
        ),
    ),
    # vision writes every photo's meta (it verifies the chunks the glasses upload) and deletes photos taken in privacy mode.
    object_stores=(
        UseObjectStore(
            PHOTOS,
            writes=True,
            owns=True,
            ttl_s=lambda settings: settings.photo_retention_days * DAY,
            max_bytes=lambda settings: settings.photo_store_max_bytes,
        ),
    ),
)

"""Wiring of the vision service (the only place that touches the broker).

Two stages on the bus: the intake (photo notices from the glasses: verify
the upload, blur bystanders' faces, store, announce PhotoStored) and the
analysis (stored photos: OCR, tags, codes, indexed in the photo library,
announced as VisionResult); and the library's per-device requests (bus)
and gRPC service. The engines load once, before the service subscribes,
and run in a small thread pool so the event loop keeps serving.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from nats.js.errors import NotFoundError, ObjectNotFoundError
from sightline.v1.device_pb2 import AuditAction
from sightline.v1.vision_pb2 import PhotoTreatment
from sightline_runtime.audit import AuditLog
from sightline_runtime.codec import EventRejected
from sightline_runtime.processes import cancel_task
from sightline_runtime.service import Resources, Service
from sightline_runtime.streams import PHOTOS, photo_object_name

from sightline_vision.analysis import Analysis, PhotoAnalyzer
from sightline_vision.analysis_stage import AnalysisStage
from sightline_vision.bus import SERVICE, SURFACE
from sightline_vision.domain.image import ImageRefused
from sightline_vision.engines import Engines, load_engines
from sightline_vision.handlers import VisionHandlers
from sightline_vision.intake import PhotoIntake, Treated
from sightline_vision.library import PhotoLibrary, PhotoRequests, expire_forever
from sightline_vision.library_grpc import start_grpc
from sightline_vision.metrics import VisionMetrics
from sightline_vision.settings import VisionSettings

log = logging.getLogger(__name__)


def create_service(settings: VisionSettings | None = None, *, engines: Engines | None = None, **service_options: Any) -> Service:
    """`engines`: already loaded ones (tests share one set per session); else
    they load at start-up, before the service subscribes."""
    settings = settings or VisionSettings()
    shared = engines

    async def build(resources: Resources) -> VisionHandlers:
        assert resources.js is not None, "vision reads and writes the photo store in JetStream"
        metrics = VisionMetrics(resources.metrics.registry)
        engines = shared or await asyncio.to_thread(load_engines, settings)
        if shared is None:
            resources.on_shutdown(lambda: asyncio.to_thread(engines.close))
        analyzer = PhotoAnalyzer(engines, settings)
        pool = ThreadPoolExecutor(settings.vision_analysis_workers, thread_name_prefix="vision-engines")
        resources.on_shutdown(lambda: asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True))
        loop = asyncio.get_running_loop()

        async def protect(data: bytes, content_type: str, keep_faces: bool) -> Treated:
            started = time.perf_counter()
            try:
                done = await loop.run_in_executor(pool, functools.partial(analyzer.protect, data, content_type, keep_faces=keep_faces))
            except ImageRefused as refused:
                raise EventRejected(refused.code, refused.reason) from None
            metrics.protect_seconds.observe(time.perf_counter() - started)
            metrics.faces.inc(done.faces)
            metrics.treatments.labels(PhotoTreatment.Name(done.treatment).removeprefix("PHOTO_TREATMENT_").lower()).inc()
            return Treated(done.data, done.faces, done.treatment, done.width, done.height)

        async def analyze(data: bytes) -> Analysis:
            return await loop.run_in_executor(pool, analyzer.analyze, data)

        library = await PhotoLibrary.open(settings.library_url(), schema=settings.library_db_schema)
        resources.on_shutdown(library.close)
        store = resources.object_stores[PHOTOS.name]
        audit = AuditLog(resources.publisher, SERVICE)

        async def delete_photo(device: str, photo_id: str) -> bool:
            """The wearer deletes a photo: the object goes with its index entry."""
            try:
                await store.delete(photo_object_name(device, photo_id))
            except (ObjectNotFoundError, NotFoundError):
                return False
            await audit.record(device, AuditAction.AUDIT_ACTION_PHOTO_DELETED, reference_id=photo_id, detail="deleted by the wearer")
            return True

        intake = PhotoIntake(resources.publisher, settings, resources.js, store, protect)
        stage = AnalysisStage(resources.publisher, settings, store, analyze, library, metrics)
        # The photo store's TTL removes photos; this removes their index entries.
        expiry = asyncio.create_task(
            expire_forever(library, retention_s=settings.photo_retention_days * 86400, every_s=settings.library_retention_interval_s),
            name="vision-library-retention",
        )
        resources.on_shutdown(functools.partial(cancel_task, expiry))
        if settings.library_grpc_port:
            # Read-only for integrations: deleting is the wearer's (their own device's request subject).
            server = await start_grpc(library, port=settings.library_grpc_port, api_keys=settings.library_api_keys)
            resources.on_shutdown(functools.partial(server.stop, grace=2.0))
        return VisionHandlers(intake, stage, PhotoRequests(library, delete_photo), metrics)

    return Service(SURFACE, settings, build, **service_options)


def main() -> None:
    create_service().run()

"""The handler object the vision service subscribes: one method per
declared subscription and request subject (bus.py), each handing over to
its stage. Thin on purpose: the work is in intake.py, analysis_stage.py and
the photo library."""

from __future__ import annotations

from sightline.v1.vision_pb2 import (
    DeletePhotoResponse,
    GetPhotoResponse,
    PhotoCaptured,
    PhotoStored,
    SearchPhotosResponse,
)
from sightline_runtime.consumer import EventContext

from sightline_vision.analysis_stage import AnalysisStage
from sightline_vision.intake import PhotoIntake
from sightline_vision.library import PhotoRequests
from sightline_vision.metrics import VisionMetrics

Reply = dict[str, str]


class VisionHandlers:
    def __init__(self, intake: PhotoIntake, analysis: AnalysisStage, requests: PhotoRequests, metrics: VisionMetrics) -> None:
        self.intake = intake
        self.analysis = analysis
        self.requests = requests
        self.metrics = metrics

    # --- photo.captured (the glasses' up-link) and photo.stored (our own) ---
    async def on_photo_captured(self, notice: PhotoCaptured, ctx: EventContext) -> None:
        await self.intake.on_photo_captured(notice, ctx)

    async def discard(self, notice: PhotoCaptured, ctx: EventContext) -> None:
        await self.intake.discard(notice, ctx)

    async def on_photo_stored(self, stored: PhotoStored, ctx: EventContext) -> None:
        await self.analysis.on_photo_stored(stored, ctx)

    # --- the photo library, per device ---
    def _counted(self, method: str, headers: Reply) -> None:
        self.metrics.library_requests.labels(method, "refused" if headers else "ok").inc()

    async def search_photos(self, body: bytes, *, device: str) -> tuple[SearchPhotosResponse, Reply]:
        response, headers = await self.requests.search_photos(body, device=device)
        self._counted("search_photos", headers)
        return response, headers

    async def get_photo(self, body: bytes, *, device: str) -> tuple[GetPhotoResponse, Reply]:
        response, headers = await self.requests.get_photo(body, device=device)
        self._counted("get_photo", headers)
        return response, headers

    async def delete_photo(self, body: bytes, *, device: str) -> tuple[DeletePhotoResponse, Reply]:
        response, headers = await self.requests.delete_photo(body, device=device)
        self._counted("delete_photo", headers)
        return response, headers

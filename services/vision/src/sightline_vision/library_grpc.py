"""PhotoLibraryService over gRPC (grpc.aio), for integrations, with the
standard health service (grpc.health.v1).

Who may call: `authorization: Bearer <key>` metadata; `api_keys` maps the
SHA-256 hex of each key to the device ids it may read (checked by
sightline_runtime.api_keys: only digests are kept, and neither keys nor
digests are logged). No or an unknown key:
UNAUTHENTICATED; a device outside the key's set: PERMISSION_DENIED; bad
arguments: INVALID_ARGUMENT; the database away: UNAVAILABLE. DeletePhoto
deletes the stored photo too, and only where the server was given the means
(delete_object); elsewhere it is PERMISSION_DENIED.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import NoReturn, TypeVar

import grpc
import nats.errors
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from sightline.v1 import vision_pb2, vision_pb2_grpc
from sightline_runtime.api_keys import ApiKeys, Unauthenticated, grpc_authorization, key_digest
from sqlalchemy.exc import SQLAlchemyError

from sightline_vision.library.query import DEFAULT_LIMIT, LibraryQueryError, check_device
from sightline_vision.library.requests import DeleteObject, delete_photo
from sightline_vision.library.store import PhotoLibrary

log = logging.getLogger(__name__)

SERVICE_NAME = vision_pb2.DESCRIPTOR.services_by_name["PhotoLibraryService"].full_name  # sightline.v1.PhotoLibraryService

T = TypeVar("T")

__all__ = ["SERVICE_NAME", "PhotoLibraryGrpc", "key_digest", "start_grpc"]


async def _abort(context: grpc.aio.ServicerContext, code: grpc.StatusCode, details: str) -> NoReturn:
    await context.abort(code, details)
    raise AssertionError("unreachable: abort raises")


def _moment(request: vision_pb2.SearchPhotosRequest, field: str) -> dt.datetime | None:
    if not request.HasField(field):
        return None
    try:
        return getattr(request, field).ToDatetime(tzinfo=dt.UTC)
    except (ValueError, OverflowError) as exc:
        raise LibraryQueryError(f"{field} is not a valid time: {exc}") from None


class PhotoLibraryGrpc(vision_pb2_grpc.PhotoLibraryServiceServicer):
    def __init__(self, library: PhotoLibrary, api_keys: Mapping[str, Iterable[str]], *, delete_object: DeleteObject | None = None) -> None:
        """delete_object(device, photo_id) removes the stored photo: without it
        DeletePhoto is refused (a key that may read may not delete)."""
        self._library = library
        self._delete_object = delete_object
        self._keys = ApiKeys(api_keys)

    async def _device(self, context: grpc.aio.ServicerContext, device_id: str) -> str:
        """The request's device, once the caller's key may read it."""
        authorization = grpc_authorization(context.invocation_metadata())
        try:
            grant = self._keys.identify(authorization)
        except Unauthenticated:
            log.info("photo library gRPC: call from %s without a valid API key refused", context.peer())
            await _abort(context, grpc.StatusCode.UNAUTHENTICATED, "missing or unknown API key (authorization: Bearer <key>)")
        if not device_id:
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "device_id is required")
        try:
            check_device(device_id)
        except LibraryQueryError as exc:
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        if not grant.may_reach(device_id):
            await _abort(context, grpc.StatusCode.PERMISSION_DENIED, f"this API key may not read device {device_id}'s photos")
        return device_id

    async def _call(self, context: grpc.aio.ServicerContext, what: str, work: Callable[[], Awaitable[T]]) -> T:
        try:
            return await work()
        except LibraryQueryError as exc:
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        except (SQLAlchemyError, OSError, nats.errors.Error) as exc:
            log.warning("photo library gRPC: %s failed: %s", what, exc)
            await _abort(context, grpc.StatusCode.UNAVAILABLE, "the photo library is unavailable, try again")

    async def SearchPhotos(
        self, request: vision_pb2.SearchPhotosRequest, context: grpc.aio.ServicerContext
    ) -> vision_pb2.SearchPhotosResponse:
        device = await self._device(context, request.device_id)

        async def work() -> vision_pb2.SearchPhotosResponse:
            photos, total = await self._library.search(
                device,
                query=request.query,
                tags=list(request.tags),
                since=_moment(request, "since"),
                until=_moment(request, "until"),
                limit=request.limit or DEFAULT_LIMIT,
                offset=request.offset,
            )
            return vision_pb2.SearchPhotosResponse(photos=photos, match_count=total)

        return await self._call(context, "search", work)

    async def GetPhoto(self, request: vision_pb2.GetPhotoRequest, context: grpc.aio.ServicerContext) -> vision_pb2.GetPhotoResponse:
        device = await self._device(context, request.device_id)

        async def work() -> vision_pb2.GetPhotoResponse:
            record = await self._library.get(device, request.photo_id)
            return vision_pb2.GetPhotoResponse(photo=record) if record is not None else vision_pb2.GetPhotoResponse()

        return await self._call(context, "get", work)

    async def DeletePhoto(
        self, request: vision_pb2.DeletePhotoRequest, context: grpc.aio.ServicerContext
    ) -> vision_pb2.DeletePhotoResponse:
        """The stored photo and its index entries, when this server deletes at all."""
        device = await self._device(context, request.device_id)
        delete_object = self._delete_object
        if delete_object is None:
            await _abort(context, grpc.StatusCode.PERMISSION_DENIED, "this server does not delete photos over gRPC")

        async def work() -> vision_pb2.DeletePhotoResponse:
            return vision_pb2.DeletePhotoResponse(deleted=await delete_photo(self._library, delete_object, device, request.photo_id))

        return await self._call(context, "delete", work)


async def start_grpc(
    library: PhotoLibrary,
    *,
    port: int,
    api_keys: Mapping[str, Iterable[str]],
    delete_object: DeleteObject | None = None,
    host: str = "0.0.0.0",  # noqa: S104 - containers listen on all interfaces
) -> grpc.aio.Server:
    """A started server with PhotoLibraryService and the health service
    (SERVING for "" and SERVICE_NAME); stop it with `await server.stop(grace)`."""
    server = grpc.aio.server()
    vision_pb2_grpc.add_PhotoLibraryServiceServicer_to_server(PhotoLibraryGrpc(library, api_keys, delete_object=delete_object), server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    if server.add_insecure_port(f"{host}:{port}") == 0:
        raise OSError(f"cannot listen on {host}:{port} for the photo library's gRPC service")
    await server.start()
    for name in ("", SERVICE_NAME):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return server

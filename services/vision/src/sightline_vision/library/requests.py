"""The library's per-device request handlers on the bus.

Subjects: glasses.<device>.rpc.vision.(search_photos|get_photo|delete_photo).
The device is always the subject's token, which the hub's permissions vouch
for (a device publishes only under its own); a body naming another device is
refused. A refused or failed request gets an empty body and the NATS services
error headers, as translation's requests do (Nats-Service-Error and
Nats-Service-Error-Code: 400 bad request, 403 another device's photos,
500 a bug, 503 the index or the object store is unavailable).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import nats.errors
from google.protobuf.message import DecodeError, Message
from sightline.v1.vision_pb2 import (
    DeletePhotoRequest,
    DeletePhotoResponse,
    GetPhotoRequest,
    GetPhotoResponse,
    SearchPhotosRequest,
    SearchPhotosResponse,
)
from sightline_runtime.replies import error_headers
from sqlalchemy.exc import SQLAlchemyError

from sightline_vision.library.query import DEFAULT_LIMIT, LibraryQueryError, check_photo_id
from sightline_vision.library.store import PhotoLibrary

log = logging.getLogger(__name__)

SERVICE = "vision"
SEARCH_PHOTOS, GET_PHOTO, DELETE_PHOTO = "search_photos", "get_photo", "delete_photo"

Request = TypeVar("Request", bound=Message)
Response = TypeVar("Response", bound=Message)
Answer = tuple[Response, dict[str, str]]
# (device, photo_id) -> whether there was a stored photo to delete
DeleteObject = Callable[[str, str], Awaitable[bool]]


class Refused(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def parse(kind: type[Request], body: bytes, device: str) -> Request:
    """The request, checked to be about `device` (an empty device_id means it)."""
    try:
        request = kind.FromString(body)
    except DecodeError:
        raise Refused(400, f"malformed {kind.DESCRIPTOR.name}") from None
    if request.device_id and request.device_id != device:  # type: ignore[attr-defined]
        raise Refused(403, f"a request on {device}'s subject may name only {device}'s photos")
    return request


def moment(request: Message, field: str) -> dt.datetime | None:
    if not request.HasField(field):
        return None
    try:
        return getattr(request, field).ToDatetime(tzinfo=dt.UTC)
    except (ValueError, OverflowError) as exc:
        raise Refused(400, f"{field} is not a valid time: {exc}") from None


async def answer(empty: Response, what: str, work: Callable[[], Awaitable[Response]]) -> Answer[Response]:
    """work()'s response, or `empty` with the error headers; never raises."""
    try:
        return await work(), {}
    except Refused as exc:
        return empty, error_headers(exc.code, exc.message)
    except LibraryQueryError as exc:
        return empty, error_headers(400, str(exc))
    except (SQLAlchemyError, OSError, nats.errors.Error) as exc:
        log.warning("photo library: %s failed: %s", what, exc)
        return empty, error_headers(503, "the photo library is unavailable, try again")
    except Exception:  # a bug: the caller hears of it rather than timing out
        log.exception("photo library: %s failed", what)
        return empty, error_headers(500, "internal error")


async def delete_photo(library: PhotoLibrary, delete_object: DeleteObject, device: str, photo_id: str) -> bool:
    """Delete a photo and its index entries; True if there was either."""
    photo_id = check_photo_id(photo_id)
    # The stored photo first: if that fails the entry stays, and deleting again finishes the job.
    stored = await delete_object(device, photo_id)
    indexed = await library.delete(device, photo_id)
    if stored or indexed:
        log.info("photo %s of %s deleted (stored photo: %s, index entries: %s)", photo_id, device, stored, indexed)
    return stored or indexed


class PhotoRequests:
    def __init__(self, library: PhotoLibrary, delete_object: DeleteObject) -> None:
        """delete_object(device, photo_id) removes the stored photo itself; True if there was one."""
        self._library = library
        self._delete_object = delete_object

    async def search_photos(self, body: bytes, *, device: str) -> Answer[SearchPhotosResponse]:
        """A device's photos by text, tags and time: best match first, or newest first."""

        async def work() -> SearchPhotosResponse:
            request = parse(SearchPhotosRequest, body, device)
            photos, total = await self._library.search(
                device,
                query=request.query,
                tags=list(request.tags),
                since=moment(request, "since"),
                until=moment(request, "until"),
                limit=request.limit or DEFAULT_LIMIT,
                offset=request.offset,
            )
            return SearchPhotosResponse(photos=photos, match_count=total)

        return await answer(SearchPhotosResponse(), SEARCH_PHOTOS, work)

    async def get_photo(self, body: bytes, *, device: str) -> Answer[GetPhotoResponse]:
        """One of the device's photos; an empty response when it has none of that id."""

        async def work() -> GetPhotoResponse:
            request = parse(GetPhotoRequest, body, device)
            record = await self._library.get(device, request.photo_id)
            return GetPhotoResponse(photo=record) if record is not None else GetPhotoResponse()

        return await answer(GetPhotoResponse(), GET_PHOTO, work)

    async def delete_photo(self, body: bytes, *, device: str) -> Answer[DeletePhotoResponse]:
        """Delete one of the device's photos: the stored photo first, then its index entries."""

        async def work() -> DeletePhotoResponse:
            request = parse(DeletePhotoRequest, body, device)
            return DeletePhotoResponse(deleted=await delete_photo(self._library, self._delete_object, device, request.photo_id))

        return await answer(DeletePhotoResponse(), DELETE_PHOTO, work)

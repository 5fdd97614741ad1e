"""PhotoRequests, the bus handlers: the device is the subject's, always; bad
requests get the error headers, never an exception. On both databases."""

from __future__ import annotations

import datetime as dt

import nats
import pytest
from photo_library_helpers import T0, PhotoStore, entry
from sightline.v1.vision_pb2 import (
    DeletePhotoRequest,
    DeletePhotoResponse,
    GetPhotoRequest,
    GetPhotoResponse,
    SearchPhotosRequest,
    SearchPhotosResponse,
)
from sightline_runtime.replies import ERROR_CODE_HEADER, ERROR_HEADER
from sightline_vision.library import PhotoLibrary, PhotoRequests


@pytest.fixture
async def seeded(library: PhotoLibrary) -> PhotoLibrary:
    await library.index_many(
        [
            entry("smoke", texts=("禁止吸烟", "No Smoking"), tags=("street sign",), hours=1),
            entry("exit", texts=("出口 EXIT",), tags=("street sign",), hours=2),
            entry("theirs", "dev-b", texts=("禁止吸烟",), hours=1),
        ]
    )
    return library


def error(headers: dict[str, str]) -> tuple[int, str]:
    return int(headers[ERROR_CODE_HEADER]), headers[ERROR_HEADER]


async def test_search_get_and_delete_answer_for_the_subjects_device(seeded: PhotoLibrary, photos: PhotoStore) -> None:
    requests = PhotoRequests(seeded, photos.delete)

    found, headers = await requests.search_photos(SearchPhotosRequest(query="吸烟").SerializeToString(), device="dev-a")
    assert headers == {}
    assert ([p.photo_id for p in found.photos], found.match_count) == (["smoke"], 1)
    # An empty body lists the device's photos, newest first, default page.
    listed, _ = await requests.search_photos(b"", device="dev-a")
    assert [p.photo_id for p in listed.photos] == ["exit", "smoke"]
    body = SearchPhotosRequest(device_id="dev-a", tags=["street sign"], limit=1, offset=1)
    page, _ = await requests.search_photos(body.SerializeToString(), device="dev-a")
    assert ([p.photo_id for p in page.photos], page.match_count) == (["smoke"], 2)
    since = SearchPhotosRequest()
    since.since.FromDatetime(T0 + dt.timedelta(hours=2))
    assert [p.photo_id for p in (await requests.search_photos(since.SerializeToString(), device="dev-a"))[0].photos] == ["exit"]

    got, headers = await requests.get_photo(GetPhotoRequest(photo_id="smoke").SerializeToString(), device="dev-a")
    assert (got.photo.photo_id, got.photo.device_id, headers) == ("smoke", "dev-a", {})
    missing, headers = await requests.get_photo(GetPhotoRequest(photo_id="nope").SerializeToString(), device="dev-a")
    assert (missing.HasField("photo"), headers) == (False, {})

    deleted, headers = await requests.delete_photo(DeletePhotoRequest(photo_id="smoke").SerializeToString(), device="dev-a")
    assert (deleted.deleted, headers) == (True, {})
    assert await photos.names() == {"dev-b/theirs"}
    assert await seeded.get("dev-a", "smoke") is None
    again, _ = await requests.delete_photo(DeletePhotoRequest(photo_id="smoke").SerializeToString(), device="dev-a")
    assert again.deleted is False


async def test_a_body_naming_another_device_is_refused(seeded: PhotoLibrary, photos: PhotoStore) -> None:
    requests = PhotoRequests(seeded, photos.delete)
    other = {"device_id": "dev-b"}
    for handler, body, empty in (
        (requests.search_photos, SearchPhotosRequest(**other, query="吸烟"), SearchPhotosResponse()),
        (requests.get_photo, GetPhotoRequest(**other, photo_id="theirs"), GetPhotoResponse()),
        (requests.delete_photo, DeletePhotoRequest(**other, photo_id="theirs"), DeletePhotoResponse()),
    ):
        response, headers = await handler(body.SerializeToString(), device="dev-a")
        assert response == empty
        code, message = error(headers)
        assert code == 403
        assert "dev-a" in message
    # Naming B's photo id on A's subject finds nothing of B's.
    response, headers = await requests.get_photo(GetPhotoRequest(photo_id="theirs").SerializeToString(), device="dev-a")
    assert (response.HasField("photo"), headers) == (False, {})
    response, _ = await requests.delete_photo(DeletePhotoRequest(photo_id="theirs").SerializeToString(), device="dev-a")
    assert response.deleted is False
    assert await photos.names() == {"dev-a/smoke", "dev-b/theirs"}
    assert await seeded.get("dev-b", "theirs") is not None


def _bad_time() -> SearchPhotosRequest:
    request = SearchPhotosRequest()
    request.since.seconds = 10**13  # past year 9999
    return request


def _reversed_range() -> SearchPhotosRequest:
    request = SearchPhotosRequest()
    request.since.FromDatetime(T0)
    request.until.FromDatetime(T0 - dt.timedelta(days=1))
    return request


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"\xff\xff\xff", "malformed SearchPhotosRequest"),
        (SearchPhotosRequest(limit=101).SerializeToString(), "limit 101"),
        (SearchPhotosRequest(offset=10_001).SerializeToString(), "offset 10001"),
        (SearchPhotosRequest(query="吸" * 300).SerializeToString(), "query too long"),
        (SearchPhotosRequest(tags=["x" * 201]).SerializeToString(), "characters"),
        (_reversed_range().SerializeToString(), "is after until"),
        (_bad_time().SerializeToString(), "since is not a valid time"),
    ],
)
async def test_bad_searches_get_400_and_a_reason(seeded: PhotoLibrary, photos: PhotoStore, body: bytes, message: str) -> None:
    response, headers = await PhotoRequests(seeded, photos.delete).search_photos(body, device="dev-a")
    assert response == SearchPhotosResponse()
    code, reason = error(headers)
    assert code == 400
    assert message in reason


async def test_bad_get_and_delete_requests_get_400(seeded: PhotoLibrary, photos: PhotoStore) -> None:
    requests = PhotoRequests(seeded, photos.delete)
    for handler, body in (
        (requests.get_photo, b"\x0a"),  # truncated field
        (requests.get_photo, GetPhotoRequest().SerializeToString()),  # no photo id
        (requests.delete_photo, DeletePhotoRequest(photo_id="x" * 129).SerializeToString()),
        (requests.delete_photo, b"\x12\xff"),
    ):
        _, headers = await handler(body, device="dev-a")
        assert error(headers)[0] == 400
    # A subject token that is not a device id (the runtime never passes one, the handler still says no).
    _, headers = await requests.search_photos(b"", device="*")
    assert error(headers)[0] == 400
    assert await photos.names() == {"dev-a/smoke", "dev-b/theirs"}


async def test_an_unreachable_object_store_keeps_the_entry_for_a_retry(seeded: PhotoLibrary, photos: PhotoStore, nats_url: str) -> None:
    await photos.nc.close()  # the object store is out of reach: deleting fails
    requests = PhotoRequests(seeded, photos.delete)
    response, headers = await requests.delete_photo(DeletePhotoRequest(photo_id="smoke").SerializeToString(), device="dev-a")
    assert (response.deleted, error(headers)[0]) == (False, 503)
    assert await seeded.get("dev-a", "smoke") is not None
    nc = await nats.connect(nats_url)
    try:
        back = PhotoStore(nc, await nc.jetstream().object_store("photos"))
        response, headers = await PhotoRequests(seeded, back.delete).delete_photo(
            DeletePhotoRequest(photo_id="smoke").SerializeToString(), device="dev-a"
        )
        assert (response.deleted, headers) == (True, {})
        assert await seeded.get("dev-a", "smoke") is None
        assert await back.names() == {"dev-b/theirs"}
    finally:
        await nc.close()


async def test_a_broken_database_answers_503_not_an_exception(database: tuple[str, str], photos: PhotoStore) -> None:
    url, schema = database
    library = await PhotoLibrary.open(url, schema=schema)
    requests = PhotoRequests(library, photos.delete)
    async with library._engine.begin() as conn:
        await conn.exec_driver_sql("DROP TABLE library_photo_tags")
    _, headers = await requests.search_photos(SearchPhotosRequest(tags=["x"]).SerializeToString(), device="dev-a")
    await library.close()
    assert error(headers) == (503, "the photo library is unavailable, try again")

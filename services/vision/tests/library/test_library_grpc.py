"""PhotoLibraryService on a real grpc.aio server (SQLite behind it): health,
API keys and what each may read, argument errors."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from photo_library_helpers import PhotoStore, entry
from sightline.v1 import vision_pb2, vision_pb2_grpc
from sightline_vision.library import PhotoLibrary
from sightline_vision.library_grpc import SERVICE_NAME, key_digest, start_grpc

READER_KEY = "reader-key-for-dev-a-and-dev-c"
OTHER_KEY = "key-for-dev-b"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def api_keys() -> dict[str, set[str]]:
    return {key_digest(READER_KEY): {"dev-a", "dev-c"}, key_digest(OTHER_KEY): {"dev-b"}}


@pytest.fixture
async def channel(library: PhotoLibrary, api_keys: dict[str, set[str]]) -> AsyncIterator[grpc.aio.Channel]:
    await library.index_many(
        [
            entry("smoke", texts=("禁止吸烟", "No Smoking"), tags=("street sign",), hours=1),
            entry("exit", texts=("出口 EXIT",), tags=("street sign",), hours=2),
            entry("theirs", "dev-b", texts=("禁止吸烟",)),
        ]
    )
    port = free_port()
    server = await start_grpc(library, port=port, api_keys=api_keys, host="127.0.0.1")
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield channel
    finally:
        await server.stop(0)


def bearer(key: str) -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer {key}"),)


async def test_health_reports_serving(channel: grpc.aio.Channel) -> None:
    stub = health_pb2_grpc.HealthStub(channel)
    for service in ("", SERVICE_NAME):
        reply = await stub.Check(health_pb2.HealthCheckRequest(service=service))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
    assert SERVICE_NAME == "sightline.v1.PhotoLibraryService"


async def test_a_key_reads_the_devices_it_was_given(channel: grpc.aio.Channel) -> None:
    stub = vision_pb2_grpc.PhotoLibraryServiceStub(channel)
    found = await stub.SearchPhotos(vision_pb2.SearchPhotosRequest(device_id="dev-a", query="吸烟"), metadata=bearer(READER_KEY))
    assert ([p.photo_id for p in found.photos], found.match_count) == (["smoke"], 1)
    assert found.photos[0].score > 0
    listed = await stub.SearchPhotos(vision_pb2.SearchPhotosRequest(device_id="dev-a", tags=["street sign"]), metadata=bearer(READER_KEY))
    assert [p.photo_id for p in listed.photos] == ["exit", "smoke"]
    got = await stub.GetPhoto(vision_pb2.GetPhotoRequest(device_id="dev-a", photo_id="exit"), metadata=bearer(READER_KEY))
    assert (got.photo.photo_id, got.photo.text_regions[0].text) == ("exit", "出口 EXIT")
    # Not there (or another device's): an empty response.
    missing = await stub.GetPhoto(vision_pb2.GetPhotoRequest(device_id="dev-a", photo_id="theirs"), metadata=bearer(READER_KEY))
    assert not missing.HasField("photo")
    theirs = await stub.SearchPhotos(vision_pb2.SearchPhotosRequest(device_id="dev-b"), metadata=bearer(OTHER_KEY))
    assert [p.photo_id for p in theirs.photos] == ["theirs"]


@pytest.mark.parametrize(
    "metadata",
    [(), (("authorization", "Bearer not-a-key"),), (("authorization", f"Basic {READER_KEY}"),), (("authorization", "Bearer "),)],
    ids=["none", "unknown", "wrong-scheme", "empty"],
)
async def test_no_valid_key_is_unauthenticated(channel: grpc.aio.Channel, metadata: tuple) -> None:
    stub = vision_pb2_grpc.PhotoLibraryServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.SearchPhotos(vision_pb2.SearchPhotosRequest(device_id="dev-a"), metadata=metadata)
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert READER_KEY not in (refused.value.details() or "")


async def test_a_device_outside_the_keys_set_is_permission_denied(channel: grpc.aio.Channel) -> None:
    stub = vision_pb2_grpc.PhotoLibraryServiceStub(channel)
    for call in (
        stub.SearchPhotos(vision_pb2.SearchPhotosRequest(device_id="dev-b", query="吸烟"), metadata=bearer(READER_KEY)),
        stub.GetPhoto(vision_pb2.GetPhotoRequest(device_id="dev-b", photo_id="theirs"), metadata=bearer(READER_KEY)),
        stub.DeletePhoto(vision_pb2.DeletePhotoRequest(device_id="dev-b", photo_id="theirs"), metadata=bearer(READER_KEY)),
        stub.SearchPhotos(vision_pb2.SearchPhotosRequest(device_id="dev-a"), metadata=bearer(OTHER_KEY)),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await call
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (vision_pb2.SearchPhotosRequest(), "device_id is required"),
        (vision_pb2.SearchPhotosRequest(device_id="dev a"), "invalid device id"),
        (vision_pb2.SearchPhotosRequest(device_id="dev-a", limit=101), "limit 101"),
        (vision_pb2.SearchPhotosRequest(device_id="dev-a", query="q" * 300), "query too long"),
    ],
)
async def test_bad_arguments_are_invalid_argument(
    channel: grpc.aio.Channel, request_: vision_pb2.SearchPhotosRequest, message: str
) -> None:
    stub = vision_pb2_grpc.PhotoLibraryServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.SearchPhotos(request_, metadata=bearer(READER_KEY))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in refused.value.details()


async def test_bad_get_arguments_are_invalid_argument(channel: grpc.aio.Channel) -> None:
    stub = vision_pb2_grpc.PhotoLibraryServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.GetPhoto(vision_pb2.GetPhotoRequest(device_id="dev-a"), metadata=bearer(READER_KEY))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_delete_is_refused_unless_the_server_deletes_stored_photos(channel: grpc.aio.Channel, library: PhotoLibrary) -> None:
    stub = vision_pb2_grpc.PhotoLibraryServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.DeletePhoto(vision_pb2.DeletePhotoRequest(device_id="dev-a", photo_id="smoke"), metadata=bearer(READER_KEY))
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert await library.get("dev-a", "smoke") is not None


async def test_delete_removes_the_stored_photo_and_the_entry(
    library: PhotoLibrary, api_keys: dict[str, set[str]], photos: PhotoStore
) -> None:
    await library.index(entry("smoke", texts=("禁止吸烟",)))
    port = free_port()
    server = await start_grpc(library, port=port, api_keys=api_keys, delete_object=photos.delete, host="127.0.0.1")
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = vision_pb2_grpc.PhotoLibraryServiceStub(channel)
            reply = await stub.DeletePhoto(vision_pb2.DeletePhotoRequest(device_id="dev-a", photo_id="smoke"), metadata=bearer(READER_KEY))
    finally:
        await server.stop(0)
    assert reply.deleted is True
    assert await photos.names() == {"dev-b/theirs"}
    assert await library.get("dev-a", "smoke") is None

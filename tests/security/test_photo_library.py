"""Issue 9: a device can never list or read another device's photos, against
the hub as `sightline up` runs it (JWT auth on): the library answers a
device's request about itself only; a request naming another device's
subject is refused by the hub; a request whose body names another device
is refused by vision; and a's photo id asked for on b's behalf is not found."""

from __future__ import annotations

from sightline.v1.vision_pb2 import GetPhotoRequest, GetPhotoResponse, SearchPhotosRequest, SearchPhotosResponse
from sightline_glasses.agent import GlassesAgent
from sightline_runtime import auth, subjects
from sightline_runtime.processes import free_port
from sightline_vision.app import create_service as create_vision
from sightline_vision.settings import VisionSettings

from tests.edge.helpers import make_photo, wait_for
from tests.security.conftest import DENIED_PUBLISH_TEXT, connect


async def _search(nc, device: str, request: SearchPhotosRequest, *, on_behalf_of: str | None = None):
    reply = await nc.request(
        subjects.device_request(on_behalf_of or device, "vision", "search_photos"), request.SerializeToString(), timeout=10
    )
    return SearchPhotosResponse.FromString(reply.data), dict(reply.headers or {})


async def test_a_device_sees_only_its_own_photos(secure_hub, admin, device_creds, run_service, vision_engines, tmp_path):
    creds = {device: await device_creds(device) for device in ("a", "b")}
    settings = VisionSettings(
        nats_url=secure_hub.url,
        nats_credentials_file=secure_hub.creds("vision"),
        http_port=free_port(),
        http_host="127.0.0.1",
        log_level="WARNING",
        library_db_url=f"sqlite+aiosqlite:///{tmp_path / 'photos.db'}",
    )
    await run_service(create_vision(settings, engines=vision_engines))
    taken = {}
    for device in ("a", "b"):
        async with GlassesAgent.connect(device, secure_hub.url, credentials_file=creds[device]) as glasses:
            taken[device] = await glasses.send_photo(make_photo(70 + len(taken)))

    a, a_errors = await connect(secure_hub.url, creds["a"], inbox_prefix=auth.device_inbox_prefix("a").encode())
    try:

        async def indexed() -> bool:
            return (await _search(a, "a", SearchPhotosRequest(limit=10)))[0].match_count == 1

        await wait_for(indexed, 60, "a's photo in the library", interval_s=0.5)
        mine, headers = await _search(a, "a", SearchPhotosRequest(limit=10))
        assert "Nats-Service-Error-Code" not in headers, headers
        assert [p.photo_id for p in mine.photos] == [taken["a"]]
        assert all(p.device_id == "a" for p in mine.photos)

        # Naming b in the body: vision answers for the subject's device or refuses, never for b.
        named, headers = await _search(a, "a", SearchPhotosRequest(device_id="b", limit=10))
        assert headers.get("Nats-Service-Error-Code") == "403", headers
        assert not named.photos

        # b's photo id, asked for by a: not a's, so not found.
        reply = await a.request(
            subjects.device_request("a", "vision", "get_photo"), GetPhotoRequest(photo_id=taken["b"]).SerializeToString(), timeout=10
        )
        assert not GetPhotoResponse.FromString(reply.data).HasField("photo")

        # b's own subject: the hub refuses a's request before vision sees it.
        await a.publish(subjects.device_request("b", "vision", "search_photos"), SearchPhotosRequest().SerializeToString())
        await a.flush()
        assert await a_errors.wait_for(DENIED_PUBLISH_TEXT), a_errors.seen
    finally:
        await a.close()

    # And b sees its own, through its own subject.
    b, _ = await connect(secure_hub.url, creds["b"], inbox_prefix=auth.device_inbox_prefix("b").encode())
    try:

        async def theirs() -> list[str]:
            return [p.photo_id for p in (await _search(b, "b", SearchPhotosRequest(limit=10)))[0].photos]

        assert await wait_for(theirs, 60, "b's photo in the library", interval_s=0.5) == [taken["b"]]
    finally:
        await b.close()

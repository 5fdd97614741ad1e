"""Photos: what the glasses refuse to take, and how an upload survives a
cut link (it resumes at the next chunk, storing no chunk twice)."""

import asyncio
import hashlib

import nats
import pytest
from sightline_glasses.agent import GlassesAgent
from sightline_glasses.photo_upload import EXPECTED_LAST_SUBJECT_SEQ, Progress, put_chunks
from sightline_glasses.photos import PhotoError, check_photo, read_photo
from sightline_runtime import objects, streams

from tests.edge.helpers import LeafLinkProxy, make_photo, png_bomb, sha256, subject_count, wait_for

LIMITS = {"max_bytes": 8 << 20, "max_pixels": 40_000_000}


def test_real_jpeg_and_png_are_accepted_with_their_size():
    jpeg = check_photo(make_photo(1), **LIMITS)
    png = check_photo(make_photo(2, kind="png", size=(200, 100)), **LIMITS)
    assert (jpeg.content_type, jpeg.width, jpeg.height) == ("image/jpeg", 320, 240)
    assert (png.content_type, png.width, png.height) == ("image/png", 200, 100)
    assert jpeg.sha256 == hashlib.sha256(jpeg.data).digest()


BAD = [
    ("empty", lambda: b"", "empty"),
    ("not an image", lambda: b"GIF89a" + b"\x00" * 64, "not a JPEG or PNG"),
    ("text named .jpg", lambda: b"hello, I am a shopping list\n" * 20, "not a JPEG or PNG"),
    ("truncated jpeg", lambda: make_photo(3)[:2000], "not a valid JPEG"),
    ("corrupt jpeg body", lambda: make_photo(4)[:600] + b"\x00" * 4000, "not a valid JPEG"),
    ("png with garbage data", lambda: make_photo(5, kind="png")[:60] + b"\xde\xad\xbe\xef" * 500, "not a valid PNG"),
    ("jpeg signature on a png", lambda: b"\xff\xd8\xff" + make_photo(6, kind="png"), "not a valid JPEG"),
    ("png decompression bomb", png_bomb, "decompression bomb"),
]


@pytest.mark.parametrize(("name", "payload", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_files_are_refused_with_a_clear_reason(name, payload, message):
    with pytest.raises(PhotoError, match=message):
        check_photo(payload(), **LIMITS)


def test_a_bomb_is_refused_even_under_a_generous_pixel_limit():
    # 144 Mpx is over Pillow's own bomb threshold too; that refusal is ours, not a crash.
    with pytest.raises(PhotoError, match="decompression bomb"):
        check_photo(png_bomb(), max_bytes=8 << 20, max_pixels=10**9)


def test_an_oversized_file_is_refused_without_reading_it_all(tmp_path):
    path = tmp_path / "big.jpg"
    path.write_bytes(make_photo(8, size=(1600, 1200)))
    with pytest.raises(PhotoError, match="over the 10000-byte photo limit"):
        read_photo(path, max_bytes=10_000, max_pixels=LIMITS["max_pixels"])
    with pytest.raises(PhotoError, match="cannot read"):
        read_photo(tmp_path / "missing.jpg", **LIMITS)


async def test_the_agent_refuses_a_bad_photo_and_stores_nothing(hub, edge_factory):
    edge = edge_factory("a", hub.leafnode_url)
    async with GlassesAgent.on_edge(edge) as agent:
        with pytest.raises(PhotoError):
            await agent.send_photo(png_bomb())
        with pytest.raises(PhotoError, match="not image/png"):
            await agent.send_photo(make_photo(1), content_type="image/png")
        with pytest.raises(PhotoError, match="invalid photo id"):
            await agent.send_photo(make_photo(1), photo_id="../b/x")
        assert await agent.link.outbox.count() == 0


async def test_a_lost_ack_never_stores_a_chunk_twice_and_a_lost_hub_copy_restarts_cleanly(hub, hub_nc):
    js = hub_nc.jetstream()
    await streams.ensure_object_store(js, streams.PHOTOS)
    data = make_photo(9, size=(900, 700))
    chunk = 4096
    n = -(-len(data) // chunk)
    progress = Progress.fresh("a")
    saved: list[tuple[int, int]] = []

    async def save(p: Progress) -> None:
        saved.append((p.next_chunk, p.last_seq))

    # Chunks 0 and 1 reached the hub, but the ack of chunk 1 was lost: the
    # uploader still believes it must send chunk 1 after chunk 0's sequence.
    subject = f"$O.photos.C.{progress.nuid}"
    first = await js.publish(subject, data[:chunk], headers={EXPECTED_LAST_SUBJECT_SEQ: "0"})
    await js.publish(subject, data[chunk : 2 * chunk], headers={EXPECTED_LAST_SUBJECT_SEQ: str(first.seq)})
    progress.next_chunk, progress.last_seq = 1, first.seq
    await put_chunks(js, "photos", data, chunk_bytes=chunk, progress=progress, save=save)
    assert await subject_count(js, "OBJ_photos", subject) == n, "chunk 1 is stored once"
    assert sha256((await objects.read_chunks(js, "photos", progress.nuid, max_bytes=len(data))).data) == sha256(data)

    # The hub lost the first chunks (purged or expired) while the glasses waited: start over.
    stale = Progress.fresh("a")
    stale.next_chunk, stale.last_seq = 3, 10**6
    await put_chunks(js, "photos", data, chunk_bytes=chunk, progress=stale, save=save)
    assert stale.nuid.startswith("a."), "a fresh upload, still in the device's namespace"
    assert sha256((await objects.read_chunks(js, "photos", stale.nuid, max_bytes=len(data))).data) == sha256(data)
    assert await subject_count(js, "OBJ_photos", f"$O.photos.C.{stale.nuid}") == n


async def test_an_upload_cut_midway_resumes_at_the_next_chunk(hub, hub_nc, provision, vision, edge_factory):
    await provision("a")
    # 2 MB/s: a 2.5 MB photo takes over a second, so the cut lands mid-upload.
    proxy = await LeafLinkProxy(hub.config.leafnode_port, bytes_per_s=2_000_000).start()
    edge = edge_factory("a", proxy.url, photo_chunk_bytes=64 * 1024)
    data = make_photo(10, kind="png", size=(1500, 1200))
    assert len(data) > 2_000_000
    js = hub_nc.jetstream()
    try:
        async with GlassesAgent.on_edge(edge) as agent:
            assert await edge.wait_leaf(5)
            photo_id = await agent.send_photo(data)
            progress = await wait_for(lambda: _partial(agent, photo_id), 20, "the upload half way")
            await proxy.cut()
            await asyncio.sleep(1.5)
            cut_at = await agent.link.outbox.progress(photo_id)
            assert 0 < cut_at.next_chunk < -(-len(data) // (64 * 1024)), f"not cut midway: {cut_at}"
            assert cut_at.nuid == progress.nuid
            await proxy.restore()
            assert await agent.wait_drained(60), f"still queued: {agent.queued}"
    finally:
        await proxy.close()
    chunks = -(-len(data) // (64 * 1024))
    assert await subject_count(js, "OBJ_photos", f"$O.photos.C.{cut_at.nuid}") == chunks, "resumed: each chunk once"
    # The object exists once vision has verified the chunks and written it.
    assert await wait_for(lambda: subject_count(js, "VISION", "photo.stored.a"), 15, "PhotoStored") == 1
    assert sha256((await (await js.object_store("photos")).get(f"a/{photo_id}")).data) == sha256(data)


async def _partial(agent: GlassesAgent, photo_id: str) -> Progress | None:
    progress = await agent.link.outbox.progress(photo_id)
    return progress if progress is not None and progress.next_chunk >= 5 else None


async def test_direct_mode_uploads_a_photo_without_an_edge(hub, hub_nc, provision, vision):
    await provision("d")
    async with GlassesAgent.connect("d", hub.url) as agent:
        photo_id = await agent.send_photo(make_photo(11))
    js = hub_nc.jetstream()
    assert await wait_for(lambda: subject_count(js, "VISION", "photo.stored.d"), 10, "PhotoStored") == 1
    store = await js.object_store("photos")
    assert sha256((await store.get(f"d/{photo_id}")).data) == sha256(make_photo(11))


async def test_the_uploader_waits_while_the_hub_has_no_photo_bucket(hub, provision, edge_factory, hub_nc):
    """Vision (which creates the bucket) is not running: nothing is lost, the photo waits."""
    await provision("a")
    edge = edge_factory("a", hub.leafnode_url)
    async with GlassesAgent.on_edge(edge) as agent:
        await agent.send_photo(make_photo(12))
        assert not await agent.wait_drained(2)
        assert await agent.link.outbox.count() == 1
        await streams.ensure_object_store(hub_nc.jetstream(), streams.PHOTOS)
        agent.link.uploader.wake()
        assert await agent.wait_drained(15)
    nc = await nats.connect(hub.url)
    try:
        assert await subject_count(nc.jetstream(), "GLASSES_UP", "glasses.a.up.photo") == 1
    finally:
        await nc.close()

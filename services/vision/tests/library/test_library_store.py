"""The photo library on real databases: every test runs on SQLite and on PostgreSQL (conftest)."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from photo_library_helpers import T0, entry
from sightline.v1.vision_pb2 import PhotoTreatment, TextRegion, VisionResult
from sightline_vision.library import LibraryQueryError, PhotoEntry, PhotoLibrary, expire_forever
from sightline_vision.library.migrate import current_revision, head_revision
from sightline_vision.library.models import PhotoTag
from sqlalchemy import func, select, text


def ids(page: tuple[list, int]) -> list[str]:
    return [record.photo_id for record in page[0]]


async def seed(library: PhotoLibrary) -> None:
    await library.index_many(
        [
            entry("exit", texts=("出口 EXIT",), tags=("street sign",), hours=1),
            entry("smoke", texts=("禁止吸烟", "No Smoking"), tags=("street sign", "wall clock"), hours=2),
            entry("cashier", texts=("收银台 Cashier",), tags=("shop",), hours=3),
            entry("menu", texts=("牛肉面 ¥28", "Beef noodles"), tags=("menu", "restaurant"), hours=26),
            entry("cafe", texts=("Café Müller", "espresso bar"), tags=("Espresso", "coffee mug"), hours=50),
            entry("b-smoke", "dev-b", texts=("禁止吸烟 No Smoking",), tags=("street sign",), hours=2),
        ]
    )


async def test_english_words_are_found_case_and_accent_blind(library: PhotoLibrary) -> None:
    await seed(library)
    assert ids(await library.search("dev-a", query="exit")) == ["exit"]
    assert ids(await library.search("dev-a", query="SMOKING")) == ["smoke"]
    assert ids(await library.search("dev-a", query="cafe muller")) == ["cafe"]
    # Every word must match.
    assert ids(await library.search("dev-a", query="no smoking")) == ["smoke"]
    assert ids(await library.search("dev-a", query="no exit")) == []


async def test_chinese_substrings_are_found(library: PhotoLibrary) -> None:
    await seed(library)
    assert ids(await library.search("dev-a", query="吸烟")) == ["smoke"]
    assert ids(await library.search("dev-a", query="禁止吸烟")) == ["smoke"]
    assert ids(await library.search("dev-a", query="银台")) == ["cashier"]
    assert ids(await library.search("dev-a", query="出口")) == ["exit"]
    # One character matches any photo with it; characters out of order do not match.
    assert ids(await library.search("dev-a", query="面")) == ["menu"]
    assert ids(await library.search("dev-a", query="烟吸")) == []
    # Mixed scripts in one query.
    assert ids(await library.search("dev-a", query="牛肉 noodles")) == ["menu"]


async def test_tags_are_searchable_as_text_and_filter_exactly(library: PhotoLibrary) -> None:
    await seed(library)
    assert ids(await library.search("dev-a", query="espresso")) == ["cafe"]
    assert sorted(ids(await library.search("dev-a", tags=["street sign"]))) == ["exit", "smoke"]
    assert ids(await library.search("dev-a", tags=["Street  Sign", "wall clock"])) == ["smoke"]
    # Exact tags, not words of a tag.
    assert ids(await library.search("dev-a", tags=["street"])) == []
    assert ids(await library.search("dev-a", tags=["street sign", "shop"])) == []


async def test_time_range_is_inclusive_and_combines_with_text_and_tags(library: PhotoLibrary) -> None:
    await seed(library)
    hour = dt.timedelta(hours=1)
    assert ids(await library.search("dev-a", since=T0 + 2 * hour, until=T0 + 26 * hour)) == ["menu", "cashier", "smoke"]
    assert ids(await library.search("dev-a", until=T0 + hour)) == ["exit"]
    assert ids(await library.search("dev-a", since=T0 + 27 * hour)) == ["cafe"]
    # Another time zone is the same moment.
    east = dt.timezone(dt.timedelta(hours=8))
    assert ids(await library.search("dev-a", since=(T0 + 50 * hour).astimezone(east))) == ["cafe"]
    assert ids(await library.search("dev-a", query="sign", tags=["street sign"], since=T0 + 3 * hour)) == []
    assert ids(await library.search("dev-a", query="吸烟", tags=["street sign"], since=T0 + 2 * hour, until=T0 + 2 * hour)) == ["smoke"]


async def test_listing_is_newest_first_with_paging_and_total(library: PhotoLibrary) -> None:
    await library.index_many([entry(f"p{i:02d}", texts=(f"page {i}",), hours=i) for i in range(25)])
    first, total = await library.search("dev-a", limit=10)
    assert total == 25
    assert [r.photo_id for r in first] == [f"p{i:02d}" for i in range(24, 14, -1)]
    assert all(r.score == 0 for r in first)
    last, total = await library.search("dev-a", limit=10, offset=20)
    assert ([r.photo_id for r in last], total) == ([f"p{i:02d}" for i in range(4, -1, -1)], 25)
    # Past the end: no photos, the total still right (with a query too).
    assert await library.search("dev-a", limit=10, offset=30) == ([], 25)
    assert await library.search("dev-a", query="page", limit=10, offset=30) == ([], 25)
    pages = [ids(await library.search("dev-a", query="page", limit=7, offset=o)) for o in (0, 7, 14, 21)]
    assert sorted(photo for page in pages for photo in page) == sorted(f"p{i:02d}" for i in range(25))


async def test_a_better_match_ranks_first(library: PhotoLibrary) -> None:
    await library.index_many(
        [
            entry("passing", texts=("the coffee house on the corner of main street near the old station, open late",), hours=3),
            entry("strong", texts=("COFFEE", "coffee to go", "coffee"), hours=1),
            entry("unrelated", texts=("tea room",), hours=2),
        ]
    )
    records, total = await library.search("dev-a", query="coffee")
    assert total == 2
    assert [r.photo_id for r in records] == ["strong", "passing"]
    assert records[0].score > records[1].score > 0


async def test_records_round_trip_everything_indexed(library: PhotoLibrary) -> None:
    region = TextRegion(text="Call ***-****", confidence=0.75, language="en", masked=True)
    region.box.x, region.box.y, region.box.width, region.box.height = 0.25, 0.5, 0.5, 0.125
    photo = PhotoEntry(
        photo_id="full",
        device_id="dev-a",
        captured_at=dt.datetime(2026, 11, 2, 9, 30, 15, 123456, tzinfo=dt.timezone(dt.timedelta(hours=8))),
        width=4032,
        height=3024,
        object_name="dev-a/full",
        tags=[("menu", 0.5, "imagenet"), ("restaurant", 0.25)],
        text_regions=[region, ("禁止吸烟", (0.0, 0.0, 1.0, 0.5), 0.5, "zh", False)],
        codes=[("QRCode", "https://example.com/menu"), ("EAN13", "4006381333931")],
        treatment=2,
    )
    await library.index(photo)
    record = await library.get("dev-a", "full")
    assert record is not None
    assert record.captured_at.ToDatetime(tzinfo=dt.UTC) == photo.captured_at
    assert (record.width, record.height, record.object_name, record.treatment) == (4032, 3024, "dev-a/full", 2)
    assert [(t.label, t.score, t.vocabulary) for t in record.tags] == [("menu", 0.5, "imagenet"), ("restaurant", 0.25, "")]
    assert record.text_regions[0] == region
    assert (record.text_regions[1].text, record.text_regions[1].language, record.text_regions[1].box.height) == ("禁止吸烟", "zh", 0.5)
    assert [(c.format, c.text) for c in record.codes] == [("QRCode", "https://example.com/menu"), ("EAN13", "4006381333931")]
    # What search returns is the same record, with its score.
    [found], _ = await library.search("dev-a", query="吸烟")
    assert found.score > 0
    found.score = 0
    assert found == record


async def test_a_device_never_reaches_another_devices_photos(library: PhotoLibrary) -> None:
    await seed(library)
    assert ids(await library.search("dev-b")) == ["b-smoke"]
    assert ids(await library.search("dev-b", query="吸烟")) == ["b-smoke"]
    assert ids(await library.search("dev-a", query="吸烟")) == ["smoke"]
    assert ids(await library.search("dev-b", tags=["street sign"])) == ["b-smoke"]
    assert (await library.search("dev-c")) == ([], 0)
    assert await library.get("dev-b", "smoke") is None
    assert await library.get("dev-a", "b-smoke") is None
    assert await library.delete("dev-b", "smoke") is False
    assert await library.get("dev-a", "smoke") is not None
    # The same photo id on two devices is two photos.
    await library.index(entry("exit", "dev-b", texts=("b's exit",)))
    assert (await library.get("dev-a", "exit")).object_name == "dev-a/exit"
    assert (await library.get("dev-b", "exit")).object_name == "dev-b/exit"


async def test_devices_whose_ids_split_into_the_same_words_stay_apart(library: PhotoLibrary) -> None:
    """The full-text match is narrowed to the device by one token made of its whole id."""
    devices = ("cam-1", "cam_1", "cam-1-2", "cam", "1")
    await library.index_many([entry("p", device, texts=("出口 exit",)) for device in devices])
    for device in devices:
        for query in ("出口", "exit"):
            records, total = await library.search(device, query=query)
            assert ([r.device_id for r in records], total) == ([device], 1)


async def test_indexing_a_photo_again_replaces_its_entry(library: PhotoLibrary) -> None:
    await library.index(entry("p1", texts=("old words",), tags=("old tag",)))
    await library.index(entry("p1", texts=("new words",), tags=("new tag",), hours=5))
    assert (await library.search("dev-a"))[1] == 1
    assert ids(await library.search("dev-a", query="new")) == ["p1"]
    assert ids(await library.search("dev-a", query="old")) == []
    assert ids(await library.search("dev-a", tags=["old tag"])) == []
    assert ids(await library.search("dev-a", tags=["new tag"])) == ["p1"]
    assert (await library.get("dev-a", "p1")).captured_at.ToDatetime(tzinfo=dt.UTC) == T0 + dt.timedelta(hours=5)


async def _tag_rows(library: PhotoLibrary) -> int:
    async with library._engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(PhotoTag))).scalar_one()


async def test_delete_removes_the_photo_its_tags_and_its_text(library: PhotoLibrary) -> None:
    await seed(library)
    tags_before = await _tag_rows(library)
    assert await library.delete("dev-a", "smoke") is True
    assert await library.delete("dev-a", "smoke") is False
    assert await library.get("dev-a", "smoke") is None
    assert ids(await library.search("dev-a", query="吸烟")) == []
    assert ids(await library.search("dev-a", tags=["wall clock"])) == []
    assert await _tag_rows(library) == tags_before - 2
    # dev-b's photo with the same text is untouched.
    assert ids(await library.search("dev-b", query="吸烟")) == ["b-smoke"]


async def test_expire_removes_entries_captured_before_the_cutoff(library: PhotoLibrary) -> None:
    await seed(library)
    removed = await library.expire(T0 + dt.timedelta(hours=3))
    assert removed == 3  # exit, smoke (dev-a) and b-smoke (dev-b)
    assert ids(await library.search("dev-a")) == ["cafe", "menu", "cashier"]
    assert ids(await library.search("dev-a", query="exit")) == []
    assert ids(await library.search("dev-b", query="吸烟")) == []
    assert await _tag_rows(library) == 5  # shop, menu, restaurant, espresso, coffee mug
    assert await library.expire(T0) == 0


async def test_the_retention_loop_keeps_expiring(library: PhotoLibrary) -> None:
    now = dt.datetime.now(dt.UTC)
    await library.index(
        PhotoEntry("old", "dev-a", now - dt.timedelta(days=31), 1, 1, "dev-a/old", text_regions=[("old sign", None, 1.0, "en", False)])
    )
    await library.index(PhotoEntry("new", "dev-a", now, 1, 1, "dev-a/new"))
    loop = asyncio.create_task(expire_forever(library, retention_s=30 * 86400, every_s=0.05))
    try:
        async with asyncio.timeout(10):
            while await library.get("dev-a", "old") is not None:
                await asyncio.sleep(0.02)
        # A photo that ages past retention while the loop runs goes too.
        await library.index(PhotoEntry("later", "dev-a", now - dt.timedelta(days=40), 1, 1, "dev-a/later"))
        async with asyncio.timeout(10):
            while await library.get("dev-a", "later") is not None:
                await asyncio.sleep(0.02)
    finally:
        loop.cancel()
    assert ids(await library.search("dev-a")) == ["new"]


async def test_an_entry_from_what_vision_saw(library: PhotoLibrary) -> None:
    result = VisionResult(photo_id="seen", image_width=1280, image_height=960, treatment=PhotoTreatment.PHOTO_TREATMENT_FACES_BLURRED)
    result.meta.device_id = "dev-a"
    result.captured_at.FromDatetime(T0)
    result.text_regions.add(text="收银台", confidence=0.8, language="zh")
    result.tags.add(label="cash machine", score=0.7, vocabulary="imagenet")
    result.codes.add(format="QRCode", text="https://pay.example/1")
    await library.index(PhotoEntry.from_result(result, object_name="dev-a/seen"))
    [record], _ = await library.search("dev-a", query="收银", tags=["cash machine"])
    assert (record.photo_id, record.object_name, record.width, record.treatment) == ("seen", "dev-a/seen", 1280, 2)
    assert record.captured_at.ToDatetime(tzinfo=dt.UTC) == T0
    assert (record.text_regions[0].text, record.tags[0].label, record.codes[0].text) == ("收银台", "cash machine", "https://pay.example/1")


async def test_full_text_entries_follow_the_rows(library: PhotoLibrary) -> None:
    """The index itself (FTS5 rows / tsvector) holds exactly the live photos."""
    await seed(library)
    await library.index(entry("smoke", texts=("replaced",), hours=10))
    await library.delete("dev-a", "exit")
    await library.expire(T0 + dt.timedelta(hours=2, minutes=30))  # b-smoke
    async with library._engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            # The FTS5 index is consistent, and holds no text of a removed or replaced photo.
            await conn.execute(text("INSERT INTO library_photo_fts(library_photo_fts, rank) VALUES ('integrity-check', 1)"))
            hits = (
                await conn.execute(text("SELECT count(*) FROM library_photo_fts WHERE library_photo_fts MATCH '\"吸烟\"'"))
            ).scalar_one()
        else:
            hits = (
                await conn.execute(
                    text("SELECT count(*) FROM library_photos WHERE search_vector @@ websearch_to_tsquery('simple', '\"吸烟\"')")
                )
            ).scalar_one()
    assert hits == 0
    assert ids(await library.search("dev-a", query="replaced")) == ["smoke"]
    assert ids(await library.search("dev-a")) == ["cafe", "menu", "smoke", "cashier"]


async def test_queries_are_never_parsed_as_search_syntax(library: PhotoLibrary) -> None:
    await seed(library)
    for query in ('exit"', "exit OR smoking", "NEAR(exit smoking)", "exit*", "-smoking", "exit AND", "exit:1", "'; DROP TABLE x; --"):
        records, total = await library.search("dev-a", query=query)
        assert total == len(records)
    assert ids(await library.search("dev-a", query="exit*")) == ["exit"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"limit": 101}, "limit 101"),
        ({"limit": 0}, "limit 0"),
        ({"offset": -1}, "offset -1"),
        ({"query": "x" * 257}, "query too long"),
        ({"query": " ".join(f"w{i}" for i in range(17))}, "17 terms"),
        ({"query": "!!! ..."}, "no letters or digits"),
        ({"since": T0, "until": T0 - dt.timedelta(seconds=1)}, "is after until"),
        ({"since": dt.datetime(2026, 1, 1)}, "time zone"),
        ({"tags": ["t"] * 11}, "11 tags"),
        ({"tags": [" "]}, "1-200 characters"),
        ({"tags": "street sign"}, "not one string"),
    ],
)
async def test_bad_searches_are_refused_with_a_reason(library: PhotoLibrary, arguments: dict, message: str) -> None:
    with pytest.raises(LibraryQueryError, match=message):
        await library.search("dev-a", **arguments)


async def test_bad_ids_and_entries_are_refused(library: PhotoLibrary) -> None:
    with pytest.raises(LibraryQueryError, match="invalid device id"):
        await library.search("dev.a")
    with pytest.raises(LibraryQueryError, match="invalid photo id"):
        await library.get("dev-a", "")
    with pytest.raises(LibraryQueryError, match="invalid device id"):
        await library.index(entry("p1", "*"))
    naive = PhotoEntry("p1", "dev-a", dt.datetime(2026, 1, 1), 1, 1, "o")
    with pytest.raises(LibraryQueryError, match="time zone"):
        await library.index(naive)
    with pytest.raises(LibraryQueryError, match="malformed"):
        await library.index(PhotoEntry("p1", "dev-a", T0, 1, 1, "o", text_regions=[("only text",)]))
    # A batch with one bad entry indexes none of it.
    with pytest.raises(LibraryQueryError):
        await library.index_many([entry("good"), entry("bad", "no/slash")])
    assert await library.search("dev-a") == ([], 0)


async def test_opening_again_migrates_nothing(database: tuple[str, str]) -> None:
    url, schema = database
    first = await PhotoLibrary.open(url, schema=schema)
    await first.index(entry("kept", texts=("still here",)))
    await first.close()
    # Two replicas starting at once on the migrated database, and then on a fresh one.
    again = await asyncio.gather(*(PhotoLibrary.open(url, schema=schema) for _ in range(2)))
    assert ids(await again[0].search("dev-a", query="still")) == ["kept"]
    assert await current_revision(again[1]._engine) == head_revision()
    for opened in again:
        await opened.close()


async def test_two_replicas_migrating_a_new_database_at_once(database: tuple[str, str]) -> None:
    url, schema = database
    opened = await asyncio.gather(*(PhotoLibrary.open(url, schema=schema) for _ in range(3)))
    try:
        await opened[0].index(entry("p1", texts=("hello",)))
        assert ids(await opened[2].search("dev-a", query="hello")) == ["p1"]
        assert await current_revision(opened[1]._engine) == head_revision() == "0001"
    finally:
        for library in opened:
            await library.close()

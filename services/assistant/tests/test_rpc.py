"""The request subjects' bodies to (response, headers), on a real store (SQLite)
and a real device registry (JetStream KV on a real nats-server)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest
from assistant_store_helpers import final, translation
from sightline.v1.assistant_pb2 import GetTranscriptRequest, ImportCalendarRequest
from sightline_assistant.rpc import AssistantRequests, CalendarLimits
from sightline_assistant.store import AssistantStore
from sightline_runtime.devices import DeviceRegistry
from sightline_runtime.replies import refusal

DATA = Path(__file__).parent / "data"
NOW = dt.datetime(2026, 12, 3, 8, 0, tzinfo=dt.UTC)
LONG = "and then we walk along the lake to the tea museum " * 12


async def registered(nats_url: str, zones: dict[str, str]) -> tuple[nats.NATS, DeviceRegistry]:
    nc = await nats.connect(nats_url)
    registry = await DeviceRegistry(nc.jetstream()).open()
    for device_id, zone in zones.items():
        await registry.add(device_id)
        await registry.update(device_id, lambda r, z=zone: setattr(r, "time_zone", z) or True)
    return nc, registry


@pytest.fixture
async def setup(nats_url: str, tmp_path: Path) -> AsyncIterator[tuple[AssistantStore, AssistantRequests, Path]]:
    nc, registry = await registered(nats_url, {"dev-a": "Asia/Shanghai", "dev-mars": "Mars/Olympus"})
    db = tmp_path / "assistant.db"
    store = await AssistantStore.open(f"sqlite:///{db}")
    requests = AssistantRequests(store, registry, limits=CalendarLimits(max_bytes=64 * 1024), clock=lambda: NOW)
    try:
        yield store, requests, db
    finally:
        await store.close()
        await nc.close()


async def test_get_transcript_pages_through_every_line_whole(setup) -> None:
    store, requests, _ = setup
    for n in range(5):
        spoken = final(f"u{n}", f"line {n} {LONG}", seconds=10 * n)
        await store.add_final("dev-a", spoken)
        await store.add_translation("dev-a", translation(spoken, f"第{n}行"))
    texts, token, pages = [], "", 0
    while True:
        response, headers = await requests.get_transcript(
            GetTranscriptRequest(device_id="dev-a", limit=2, page_token=token).SerializeToString()
        )
        assert headers == {}
        texts += [(line.text, line.translation) for line in response.lines]
        pages += 1
        token = response.next_page_token
        if not token:
            break
    assert pages == 3
    assert texts == [(f"line {n} {LONG}", f"第{n}行") for n in range(5)]
    since = GetTranscriptRequest(device_id="dev-a")
    since.since.FromDatetime(NOW + dt.timedelta(seconds=30))
    response, _ = await requests.get_transcript(since.SerializeToString())
    assert [line.utterance_id for line in response.lines] == ["u3", "u4"]
    assert response.lines[0].ended_at.ToDatetime(tzinfo=dt.UTC) == NOW + dt.timedelta(seconds=30)


async def test_a_page_that_would_outgrow_a_reply_ends_early_and_goes_on(setup) -> None:
    store, requests, _ = setup
    requests.max_reply_bytes = 1500  # each line is ~630 bytes: two fit, the third waits for the next page
    for n in range(5):
        await store.add_final("dev-a", final(f"u{n}", LONG, seconds=n))
    sizes, token = [], ""
    while True:
        response, _ = await requests.get_transcript(
            GetTranscriptRequest(device_id="dev-a", limit=100, page_token=token).SerializeToString()
        )
        sizes.append(len(response.lines))
        assert all(line.text == LONG for line in response.lines)
        token = response.next_page_token
        if not token:
            break
    assert sizes == [2, 2, 1]


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (b"\xff\xff\xff", 400, "malformed GetTranscriptRequest"),
        (GetTranscriptRequest().SerializeToString(), 400, "device_id is required"),
        (GetTranscriptRequest(device_id="dev a").SerializeToString(), 400, "invalid device id 'dev a'"),
        (GetTranscriptRequest(device_id="dev-a", limit=10_000).SerializeToString(), 400, "limit is at most 500"),
        (GetTranscriptRequest(device_id="dev-a", page_token="%%%").SerializeToString(), 400, "invalid page token"),
    ],
)
async def test_bad_transcript_requests_are_refused_clearly(setup, body: bytes, code: int, message: str) -> None:
    _, requests, _ = setup
    response, headers = await requests.get_transcript(body)
    refused = refusal(headers)
    assert refused is not None
    assert refused[0] == code
    assert message in refused[1]
    assert len(response.lines) == 0


async def test_import_calendar_loads_merges_and_replaces(setup) -> None:
    store, requests, _ = setup
    google = (DATA / "google_work.ics").read_bytes()
    response, headers = await requests.import_calendar(ImportCalendarRequest(device_id="dev-a", ics=google).SerializeToString())
    assert headers == {}
    assert (response.imported, response.skipped) == (9, 1)
    assert list(response.warnings) == ["event 'Offsite' (2c4e6g8i0k2m4o6q8s0u2w4y6a@google.com): cancelled, not loaded"]
    events = await store.events_between("dev-a", NOW, NOW + dt.timedelta(days=60))
    assert [e.summary for e in events[:3]] == ["Dentist", "Team standup", "Call with the New York office"]
    # Merging another file keeps these; importing the same again changes nothing.
    apple = (DATA / "allday_floating.ics").read_bytes()
    merged, _ = await requests.import_calendar(ImportCalendarRequest(device_id="dev-a", ics=apple).SerializeToString())
    assert merged.imported == 4
    await requests.import_calendar(ImportCalendarRequest(device_id="dev-a", ics=google).SerializeToString())
    assert len(await store.events_between("dev-a", NOW, NOW + dt.timedelta(days=60))) == 13
    replaced, _ = await requests.import_calendar(ImportCalendarRequest(device_id="dev-a", ics=apple, replace=True).SerializeToString())
    assert replaced.imported == 4
    assert {e.summary for e in await store.events_between("dev-a", NOW, NOW + dt.timedelta(days=60))} == {
        "Christmas trip",
        "Mum's birthday",
        "Lunch with Li Wei",
        "Wedding anniversary",
    }


async def test_a_malformed_or_oversized_file_is_refused_and_nothing_is_lost(setup) -> None:
    store, requests, _ = setup
    await requests.import_calendar(
        ImportCalendarRequest(device_id="dev-a", ics=(DATA / "allday_floating.ics").read_bytes()).SerializeToString()
    )
    before = await store.events_between("dev-a", NOW, NOW + dt.timedelta(days=60))
    malformed = ImportCalendarRequest(device_id="dev-a", ics=(DATA / "malformed.ics").read_bytes(), replace=True)
    response, headers = await requests.import_calendar(malformed.SerializeToString())
    assert refusal(headers) == (
        400,
        "line 7: not an iCalendar content line (NAME:VALUE): 'this line lost its property name when the file was pasted'",
    )
    assert response.imported == 0
    huge = ImportCalendarRequest(
        device_id="dev-a", ics=b"BEGIN:VCALENDAR\r\n" + b"X-PAD:" + b"x" * 70_000 + b"\r\nEND:VCALENDAR\r\n", replace=True
    )
    _, headers = await requests.import_calendar(huge.SerializeToString())
    code, message = refusal(headers)
    assert code == 413
    assert "the limit is 65,536" in message
    assert await store.events_between("dev-a", NOW, NOW + dt.timedelta(days=60)) == before


async def test_import_refusals_for_unknown_devices_and_empty_files(setup) -> None:
    _, requests, _ = setup
    _, headers = await requests.import_calendar(ImportCalendarRequest(device_id="dev-nobody", ics=b"BEGIN:VCALENDAR").SerializeToString())
    assert refusal(headers) == (404, "unknown device 'dev-nobody': add it with `sightline devices add` first")
    _, headers = await requests.import_calendar(ImportCalendarRequest(device_id="dev-a").SerializeToString())
    assert refusal(headers) == (400, "the request carries no .ics file")


async def test_a_device_with_an_unknown_zone_imports_with_a_warning(setup) -> None:
    store, requests, _ = setup
    response, headers = await requests.import_calendar(
        ImportCalendarRequest(device_id="dev-mars", ics=(DATA / "allday_floating.ics").read_bytes()).SerializeToString()
    )
    assert headers == {}
    assert response.warnings[0] == "the device's time zone 'Mars/Olympus' is unknown: floating and all-day times read as UTC"
    lunch = next(e for e in await store.events_between("dev-mars", NOW, NOW + dt.timedelta(days=60)) if e.summary == "Lunch with Li Wei")
    assert lunch.starts_at == dt.datetime(2026, 12, 5, 12, tzinfo=dt.UTC)


async def test_a_store_that_is_gone_answers_503(setup) -> None:
    store, requests, db = setup
    await store.close()
    for path in db.parent.glob("assistant.db*"):
        path.unlink()
    # The next connection finds an empty file without the tables.
    _, headers = await requests.get_transcript(GetTranscriptRequest(device_id="dev-a").SerializeToString())
    assert refusal(headers) == (503, "the assistant's store is unavailable, try again")

"""The assistant's store on real databases: every test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from assistant_store_helpers import BACKENDS, T0, database_for, final, translation
from sightline.v1.translation_pb2 import TranslationStatus
from sightline_assistant.domain.calendar import CalendarEntry
from sightline_assistant.store import AssistantStore, Retention, StoreInputError
from sightline_assistant.store.store import MIGRATIONS
from sightline_runtime.database import current_revision


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    yield from database_for(request, tmp_path)


@pytest.fixture
async def store(database: tuple[str, str]) -> AsyncIterator[AssistantStore]:
    url, schema = database
    opened = await AssistantStore.open(url, schema=schema, retention=Retention(line_days=30, notes_days=365))
    try:
        yield opened
    finally:
        await opened.close()


async def everything(store: AssistantStore, device: str = "dev-a") -> list:
    lines, token = await store.transcript(device, limit=500)
    assert token == ""
    return lines


def entry(uid: str, summary: str, hours: float, *, base: str | None = None, length_h: float = 1.0, all_day: bool = False) -> CalendarEntry:
    start = T0 + dt.timedelta(hours=hours)
    return CalendarEntry(uid, base or uid, summary, start, start + dt.timedelta(hours=length_h), "", all_day)


# --- the transcript ---
async def test_a_final_and_its_translation_are_one_line_whichever_comes_first(store: AssistantStore) -> None:
    first = final("u1", "Where is the train station?", seconds=10)
    await store.add_final("dev-a", first)
    await store.add_translation("dev-a", translation(first, "火车站在哪里？"))
    second = final("u2", "Thank you very much", seconds=20)
    # The translation overtakes its final (another consumer, another replica).
    await store.add_translation("dev-a", translation(second, "非常感谢"))
    provisional = await everything(store)
    assert [(line.utterance_id, line.text, line.translation) for line in provisional] == [
        ("u1", "Where is the train station?", "火车站在哪里？"),
        ("u2", "Thank you very much", "非常感谢"),
    ]
    await store.add_final("dev-a", second)
    lines = await everything(store)
    assert [(line.utterance_id, line.translation, line.translation_language) for line in lines] == [
        ("u1", "火车站在哪里？", "zh"),
        ("u2", "非常感谢", "zh"),
    ]
    # The final's own times replace the translation's stand-ins.
    assert lines[1].ended_at == T0 + dt.timedelta(seconds=20)
    assert lines[1].started_at == T0 + dt.timedelta(seconds=18)
    assert lines[1].language == "en"


async def test_redelivered_and_older_events_change_nothing(store: AssistantStore) -> None:
    newest = final("u1", "I'd like two tickets to Hangzhou", seconds=5, revision=4)
    await store.add_final("dev-a", newest)
    await store.add_translation("dev-a", translation(newest, "我想要两张去杭州的票", revision=4))
    for _ in range(3):  # at-least-once delivery
        await store.add_final("dev-a", newest)
        await store.add_translation("dev-a", translation(newest, "我想要两张去杭州的票", revision=4))
    # A stale revision delivered late.
    await store.add_final("dev-a", final("u1", "I'd like two tickets", seconds=4, revision=2))
    await store.add_translation("dev-a", translation(newest, "两张票", revision=2))
    lines = await everything(store)
    assert [(line.text, line.translation) for line in lines] == [("I'd like two tickets to Hangzhou", "我想要两张去杭州的票")]
    assert lines[0].ended_at == T0 + dt.timedelta(seconds=5)


async def test_what_is_not_a_final_speech_translation_is_not_kept(store: AssistantStore) -> None:
    partial = final("u1", "where is", seconds=1)
    partial.is_final = False
    assert await store.add_final("dev-a", partial) is False
    assert await store.add_final("dev-a", final("u2", "   ", seconds=2)) is False
    spoken = final("u3", "hello", seconds=3)
    failed = translation(spoken, "", status=TranslationStatus.TRANSLATION_STATUS_FAILED)
    assert await store.add_translation("dev-a", failed) is False
    photo = translation(spoken, "出口")
    photo.photo_id = "p1"
    assert await store.add_translation("dev-a", photo) is False
    assert await everything(store) == []
    with pytest.raises(StoreInputError, match="invalid device id"):
        await store.add_final("dev a", spoken)


async def test_a_long_utterance_is_kept_whole(store: AssistantStore) -> None:
    # A 15 s sentence: the HUD shows '…' and its last two lines; the transcript keeps every word.
    sentence = " ".join(f"word{n}" for n in range(120)) + " 以及中文的结尾。"
    await store.add_final("dev-a", final("long", sentence, seconds=30, length_s=15))
    (line,) = await everything(store)
    assert line.text == sentence
    assert (line.ended_at - line.started_at).total_seconds() == 15


async def test_pages_cover_the_transcript_once_in_order(store: AssistantStore) -> None:
    for n in range(25):
        # Pairs that ended at the same instant straddle page edges: seq breaks the tie.
        await store.add_final("dev-a", final(f"u{n:02d}", f"line {n}", seconds=n // 2))
    await store.add_final("dev-b", final("theirs", "not yours", seconds=1))
    seen, token, pages = [], "", 0
    while True:
        lines, token = await store.transcript("dev-a", limit=10, page_token=token)
        seen += [line.utterance_id for line in lines]
        pages += 1
        if not token:
            break
    assert pages == 3
    assert seen == [f"u{n:02d}" for n in range(25)]
    since = T0 + dt.timedelta(seconds=10)
    later, _ = await store.transcript("dev-a", since=since, limit=100)
    assert [line.utterance_id for line in later] == ["u20", "u21", "u22", "u23", "u24"]
    assert [line.text for line in (await store.transcript("dev-b"))[0]] == ["not yours"]
    with pytest.raises(StoreInputError, match="invalid page token"):
        await store.transcript("dev-a", page_token="not-a-token!")
    with pytest.raises(StoreInputError, match="limit"):
        await store.transcript("dev-a", limit=0)
    with pytest.raises(StoreInputError, match="time zone"):
        await store.transcript("dev-a", since=dt.datetime(2026, 12, 3))


# --- notes and meeting notes ---
async def test_notes_are_kept_once_per_id(store: AssistantStore) -> None:
    await store.add_note("dev-a", "buy oat milk", language="en", at=T0, note_id="cmd-1")
    await store.add_note("dev-a", "buy oat milk", language="en", at=T0, note_id="cmd-1")  # the command redelivered
    await store.add_note("dev-a", "给妈妈打电话", language="zh", at=T0 + dt.timedelta(minutes=5))
    notes = await store.notes("dev-a")
    assert [(note.text, note.language) for note in notes] == [("buy oat milk", "en"), ("给妈妈打电话", "zh")]
    assert await store.notes("dev-b") == []
    with pytest.raises(StoreInputError, match="needs text"):
        await store.add_note("dev-a", "  ", at=T0)


async def test_a_note_with_a_nul_is_kept_with_a_replacement_character(store: AssistantStore) -> None:
    # A note the glasses sent as an intent's slot never passed the handler's cleaning of finals.
    note = await store.add_note("dev-a", "gate\x00B12", at=T0, note_id="cmd-nul")
    assert note.text == "gate\ufffdB12"
    assert [n.text for n in await store.notes("dev-a")] == ["gate\ufffdB12"]


async def test_a_meeting_keeps_what_was_said_during_it_and_its_summary(store: AssistantStore) -> None:
    await store.add_final("dev-a", final("before", "unrelated chat", seconds=5))
    assert await store.start_meeting("dev-a", at=T0 + dt.timedelta(seconds=10)) is True
    assert await store.start_meeting("dev-a", at=T0 + dt.timedelta(seconds=11)) is False  # already running
    running = await store.open_meeting("dev-a")
    assert running is not None
    assert running.ended_at is None
    for n, text in enumerate(["Let's ship on Friday", "Li Wei will write the release notes"]):
        await store.add_final("dev-a", final(f"m{n}", text, seconds=20 + n))
    assert [line.text for line in await store.meeting_lines("dev-a", running.meeting_id)] == [
        "Let's ship on Friday",
        "Li Wei will write the release notes",
    ]
    stopped = await store.stop_meeting("dev-a", at=T0 + dt.timedelta(seconds=30))
    assert stopped is not None
    assert stopped.meeting_id == running.meeting_id
    assert [line.utterance_id for line in stopped.lines] == ["m0", "m1"]
    await store.add_final("dev-a", final("after", "see you", seconds=40))
    assert await store.save_meeting_summary("dev-a", stopped.meeting_id, "Ship on Friday.", ["Li Wei: release notes"], "extractive")
    saved = await store.meeting("dev-a", stopped.meeting_id)
    assert saved is not None
    assert (saved.summary, saved.action_items, saved.engine, saved.utterances) == (
        "Ship on Friday.",
        ("Li Wei: release notes",),
        "extractive",
        2,
    )
    assert saved.ended_at == T0 + dt.timedelta(seconds=30)
    assert await store.stop_meeting("dev-a", at=T0 + dt.timedelta(seconds=50)) is None
    assert await store.save_meeting_summary("dev-a", "no-such-meeting", "x", [], "extractive") is False
    # Another device's meeting is its own.
    assert await store.open_meeting("dev-b") is None


async def test_two_replicas_starting_a_meeting_at_once_open_one(store: AssistantStore) -> None:
    started = await asyncio.gather(*(store.start_meeting("dev-a", at=T0) for _ in range(4)))
    assert sorted(started) == [False, False, False, True]
    assert len(await store.meetings("dev-a")) == 1


# --- the schedule ---
async def test_a_merge_replaces_each_event_in_the_file_and_keeps_the_others(store: AssistantStore) -> None:
    standup = [entry(f"standup#{d}", "Standup", 24 * d, base="standup") for d in range(1, 4)]
    await store.replace_or_merge_calendar("dev-a", [*standup, entry("dentist", "Dentist", 5), entry("offsite", "Offsite", 30)])
    # The standup moved to every other day; the offsite was cancelled; the dentist is not in this file.
    moved = [entry(f"standup#{d}", "Standup", 24 * d + 1, base="standup") for d in (2, 4)]
    result = await store.replace_or_merge_calendar("dev-a", moved, cancelled_uids=["offsite"])
    assert result.imported == 2
    events = await store.events_between("dev-a", T0, T0 + dt.timedelta(days=10))
    assert [(e.event_uid, e.starts_at) for e in events] == [
        ("dentist", T0 + dt.timedelta(hours=5)),
        ("standup#2", T0 + dt.timedelta(hours=49)),
        ("standup#4", T0 + dt.timedelta(hours=97)),
    ]
    await store.replace_or_merge_calendar("dev-a", [entry("only", "Only this", 2)], replace=True)
    assert [e.event_uid for e in await store.events_between("dev-a", T0, T0 + dt.timedelta(days=10))] == ["only"]
    assert await store.events_between("dev-b", T0, T0 + dt.timedelta(days=10)) == []


async def test_events_between_takes_those_under_way_and_honours_the_limit(store: AssistantStore) -> None:
    await store.replace_or_merge_calendar(
        "dev-a",
        [
            entry("under-way", "Workshop", -1, length_h=3),
            entry("next", "Lunch", 4),
            entry("later", "Call", 6),
            entry("over", "Breakfast", -3),
        ],
    )
    events = await store.events_between("dev-a", T0, T0 + dt.timedelta(hours=12))
    assert [e.event_uid for e in events] == ["under-way", "next", "later"]
    assert [e.event_uid for e in await store.events_between("dev-a", T0, T0 + dt.timedelta(hours=12), limit=1)] == ["under-way"]
    assert events[0].ends_at == T0 + dt.timedelta(hours=2)
    assert events[0].starts_at.tzinfo is not None


async def test_a_refused_import_leaves_the_schedule_as_it_was(store: AssistantStore) -> None:
    await store.replace_or_merge_calendar("dev-a", [entry("kept", "Kept", 1)])
    naive = CalendarEntry("bad", "bad", "Naive", dt.datetime(2026, 12, 4, 9), dt.datetime(2026, 12, 4, 10))
    with pytest.raises(StoreInputError, match="time zone"):
        await store.replace_or_merge_calendar("dev-a", [entry("new", "New", 2), naive], replace=True)
    assert [e.event_uid for e in await store.events_between("dev-a", T0, T0 + dt.timedelta(days=1))] == ["kept"]


# --- retention and migrations ---
async def test_expire_drops_old_lines_and_keeps_notes_for_their_own_time(store: AssistantStore) -> None:
    await store.add_final("dev-a", final("old", "forty days ago", seconds=0))
    await store.add_final("dev-a", final("recent", "yesterday", seconds=39 * 86400))
    await store.add_note("dev-a", "old note", at=T0)
    await store.add_note("dev-a", "ancient note", at=T0 - dt.timedelta(days=400))
    await store.replace_or_merge_calendar("dev-a", [entry("past", "Long ago", 1), entry("soon", "Soon", 40 * 24)])
    now = T0 + dt.timedelta(days=40)
    expired = await store.expire(now)
    assert (expired.lines, expired.notes, expired.events) == (1, 1, 1)
    assert [line.utterance_id for line in await everything(store)] == ["recent"]
    assert [note.text for note in await store.notes("dev-a")] == ["old note"]
    assert [e.event_uid for e in await store.events_between("dev-a", T0, now + dt.timedelta(days=2))] == ["soon"]
    assert await store.expire(now) == type(expired)()


async def test_replicas_opening_at_once_migrate_once(database: tuple[str, str]) -> None:
    url, schema = database
    opened = await asyncio.gather(*(AssistantStore.open(url, schema=schema) for _ in range(3)))
    try:
        await opened[0].add_final("dev-a", final("u1", "hello", seconds=1))
        assert [line.text for line in (await opened[2].transcript("dev-a"))[0]] == ["hello"]
        assert await current_revision(opened[1]._engine, MIGRATIONS.version_table) == MIGRATIONS.head() == "0001"
    finally:
        for store in opened:
            await store.close()
    again = await AssistantStore.open(url, schema=schema)
    assert [line.text for line in (await again.transcript("dev-a"))[0]] == ["hello"]
    await again.close()

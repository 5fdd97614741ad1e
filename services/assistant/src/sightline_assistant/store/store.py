"""The assistant's store: a device's transcript, notes, meeting-notes sessions and schedule.

One SQLAlchemy code path over SQLite and PostgreSQL (sightline_runtime.database).
Events come at least once and in any order, so every write is an idempotent
upsert: a final transcript and its translation meet in one line whichever
comes first, and a redelivered or older revision changes nothing. Every read
and delete is keyed by the device. Raw audio is never stored here.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from google.protobuf.timestamp_pb2 import Timestamp
from sightline.v1.asr_pb2 import Transcript
from sightline.v1.translation_pb2 import Translation, TranslationStatus
from sightline_runtime import database
from sightline_runtime.subjects import InvalidDeviceId, check_device_id
from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from sightline_assistant.domain.calendar import CalendarEntry
from sightline_assistant.store.models import VERSION_TABLE, CalendarEventRow, MeetingRow, NoteRow, TranscriptRow
from sightline_assistant.store.records import (
    CalendarImport,
    Expired,
    Line,
    Meeting,
    Note,
    StoppedMeeting,
    StoreInputError,
    read_page_token,
    token_after,
)

log = logging.getLogger(__name__)

MIGRATIONS = database.Migrations(
    directory=Path(__file__).resolve().parent / "migrations",
    version_table=VERSION_TABLE,
    lock_name="sightline_assistant.store.migrate",
)
DEFAULT_LIMIT = 100
MAX_LIMIT = 500
# Rows per statement when a batch is large (SQLite's bound-parameter limit).
_CHUNK = 500
_TRANSLATED = (TranslationStatus.TRANSLATION_STATUS_UNSPECIFIED, TranslationStatus.TRANSLATION_STATUS_OK)
_LINE_COLUMNS = (
    TranscriptRow.utterance_id,
    TranscriptRow.started_at,
    TranscriptRow.ended_at,
    TranscriptRow.text,
    TranscriptRow.language,
    TranscriptRow.translation,
    TranscriptRow.translation_language,
    TranscriptRow.id,
)


@dataclass(frozen=True)
class Retention:
    """How long lines (and past calendar entries) and notes (and meeting notes) are kept."""

    line_days: float = 30.0
    notes_days: float = 365.0


def _device(device_id: str) -> str:
    try:
        return check_device_id(device_id)
    except InvalidDeviceId as exc:
        raise StoreInputError(str(exc)) from None


def _storable(text: str) -> str:
    """PostgreSQL text cannot hold NUL: kept as U+FFFD, the same on SQLite, rather than lost."""
    return text.replace("\x00", "\ufffd")


def _aware(value: dt.datetime, what: str) -> dt.datetime:
    if value.tzinfo is None:
        raise StoreInputError(f"{what} must carry a time zone")
    return value.astimezone(dt.UTC)


def _moment(ts: Timestamp) -> dt.datetime | None:
    return ts.ToDatetime(tzinfo=dt.UTC) if ts.seconds or ts.nanos else None


def _line(row) -> Line:
    return Line(row.utterance_id, row.started_at, row.ended_at, row.text, row.language, row.translation, row.translation_language, row.id)


class AssistantStore:
    def __init__(self, db: database.Database, retention: Retention) -> None:
        self._db = db
        self._engine = db.engine
        self.retention = retention

    @classmethod
    async def open(cls, url: str, *, schema: str = "", retention: Retention | None = None) -> AssistantStore:
        """Connect and migrate to the newest schema (idempotent; replicas may open at once).
        url: sqlite[+aiosqlite]:///file.db or postgresql[+psycopg]://...; schema: PostgreSQL only."""
        db = await database.open_database(url, MIGRATIONS, schema=schema, what="assistant store")
        return cls(db, retention or Retention())

    async def close(self) -> None:
        await self._db.close()

    # --- the transcript ---
    async def add_final(self, device_id: str, transcript: Transcript) -> bool:
        """Keep a final transcript; False (and nothing stored) for a partial or an empty one.
        Idempotent: the same or an older revision again changes nothing."""
        device_id = _device(device_id)
        if not transcript.is_final or not transcript.utterance_id or not transcript.text.strip():
            return False
        utterance_id = transcript.utterance_id[:128]
        created = _moment(transcript.meta.created_at) or dt.datetime.now(dt.UTC)
        ended = _moment(transcript.speech_ended_at) or created
        started = _moment(transcript.speech_started_at) or ended
        row = {
            "device_id": device_id,
            "utterance_id": utterance_id,
            "started_at": min(started, ended),
            "ended_at": ended,
            "text": transcript.text,
            "language": transcript.language[:35],
            "has_final": True,
            "final_revision": transcript.revision,
            "translation": "",
            "translation_language": "",
            "translation_revision": -1,
        }
        insert = self._db.insert(TranscriptRow).values(**row)
        final = ("started_at", "ended_at", "text", "language", "has_final", "final_revision")
        statement = insert.on_conflict_do_update(
            index_elements=[TranscriptRow.device_id, TranscriptRow.utterance_id],
            set_={key: insert.excluded[key] for key in final},
            # A line the translation made (has_final false) takes the final; a final only a newer revision.
            where=or_(TranscriptRow.has_final.is_(False), TranscriptRow.final_revision <= insert.excluded.final_revision),
        )
        async with self._engine.begin() as conn:
            await conn.execute(statement)
        return True

    async def add_translation(self, device_id: str, translation: Translation) -> bool:
        """Keep a final speech translation on its utterance's line (made if the final has
        not come yet). False for partials, photo translations and failed ones."""
        device_id = _device(device_id)
        if not translation.is_final or not translation.utterance_id or translation.photo_id:
            return False
        if translation.status not in _TRANSLATED or not translation.text.strip():
            return False
        created = _moment(translation.meta.created_at) or dt.datetime.now(dt.UTC)
        row = {
            "device_id": device_id,
            "utterance_id": translation.utterance_id[:128],
            # Until the final comes: the text translated, and the translation's time.
            "started_at": created,
            "ended_at": created,
            "text": translation.source_text,
            "language": translation.source_language[:35],
            "has_final": False,
            "final_revision": -1,
            "translation": translation.text,
            "translation_language": translation.target_language[:35],
            "translation_revision": translation.revision,
        }
        insert = self._db.insert(TranscriptRow).values(**row)
        statement = insert.on_conflict_do_update(
            index_elements=[TranscriptRow.device_id, TranscriptRow.utterance_id],
            set_={key: insert.excluded[key] for key in ("translation", "translation_language", "translation_revision")},
            where=TranscriptRow.translation_revision <= insert.excluded.translation_revision,
        )
        async with self._engine.begin() as conn:
            await conn.execute(statement)
        return True

    async def transcript(
        self, device_id: str, *, since: dt.datetime | None = None, limit: int = DEFAULT_LIMIT, page_token: str = ""
    ) -> tuple[list[Line], str]:
        """(a page of the device's lines in time order, the next page's token or "").
        since: only lines that ended at or after it. Keyset pages: lines added
        meanwhile after the page's end still show up on the next page."""
        device_id = _device(device_id)
        if not 1 <= limit <= MAX_LIMIT:
            raise StoreInputError(f"limit must be 1..{MAX_LIMIT}, not {limit}")
        statement = select(*_LINE_COLUMNS).where(TranscriptRow.device_id == device_id)
        if since is not None:
            statement = statement.where(TranscriptRow.ended_at >= _aware(since, "since"))
        if page_token:
            after, seq = read_page_token(page_token)
            statement = statement.where(or_(TranscriptRow.ended_at > after, and_(TranscriptRow.ended_at == after, TranscriptRow.id > seq)))
        statement = statement.order_by(TranscriptRow.ended_at, TranscriptRow.id).limit(limit + 1)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(statement)).all()
        lines = [_line(row) for row in rows[:limit]]
        return lines, (token_after(lines[-1]) if len(rows) > limit else "")

    async def lines_between(self, device_id: str, start: dt.datetime, end: dt.datetime, *, inclusive: bool = True) -> list[Line]:
        """Every line that ended within [start, end] (or (start, end) when not inclusive), in time order."""
        start, end = _aware(start, "start"), _aware(end, "end")
        ended = TranscriptRow.ended_at
        within = (ended >= start, ended <= end) if inclusive else (ended > start, ended < end)
        statement = (
            select(*_LINE_COLUMNS)
            .where(TranscriptRow.device_id == _device(device_id), *within)
            .order_by(TranscriptRow.ended_at, TranscriptRow.id)
        )
        async with self._engine.connect() as conn:
            return [_line(row) for row in (await conn.execute(statement)).all()]

    # --- notes ---
    async def add_note(self, device_id: str, text: str, *, language: str = "", at: dt.datetime, note_id: str | None = None) -> Note:
        """Keep a note. With a note_id (e.g. the command's event id) a redelivery keeps one note."""
        device_id = _device(device_id)
        if not text.strip():
            raise StoreInputError("a note needs text")
        note = Note(note_id=(note_id or uuid.uuid4().hex)[:128], text=_storable(text), language=language[:35], created_at=_aware(at, "at"))
        insert = self._db.insert(NoteRow).values(
            device_id=device_id, note_id=note.note_id, text=note.text, language=note.language, created_at=note.created_at
        )
        async with self._engine.begin() as conn:
            await conn.execute(insert.on_conflict_do_nothing(index_elements=[NoteRow.device_id, NoteRow.note_id]))
        return note

    async def notes(self, device_id: str, *, since: dt.datetime | None = None, limit: int = DEFAULT_LIMIT) -> list[Note]:
        """The device's notes, oldest first."""
        statement = select(NoteRow.note_id, NoteRow.text, NoteRow.language, NoteRow.created_at).where(
            NoteRow.device_id == _device(device_id)
        )
        if since is not None:
            statement = statement.where(NoteRow.created_at >= _aware(since, "since"))
        statement = statement.order_by(NoteRow.created_at, NoteRow.id).limit(min(max(limit, 1), MAX_LIMIT))
        async with self._engine.connect() as conn:
            return [Note(*row) for row in (await conn.execute(statement)).all()]

    # --- meeting notes ---
    async def start_meeting(self, device_id: str, *, at: dt.datetime, meeting_id: str | None = None) -> bool:
        """Open a session; False when one is already open (at most one per device, even
        with two replicas starting at once: a partial unique index decides)."""
        device_id = _device(device_id)
        insert = self._db.insert(MeetingRow).values(
            device_id=device_id,
            meeting_id=(meeting_id or uuid.uuid4().hex)[:128],
            started_at=_aware(at, "at"),
            ended_at=None,
            summary="",
            action_items="[]",
            engine="",
            utterances=0,
        )
        statement = insert.on_conflict_do_nothing().returning(MeetingRow.id)
        async with self._engine.begin() as conn:
            return (await conn.execute(statement)).first() is not None

    async def open_meeting(self, device_id: str) -> Meeting | None:
        async with self._engine.connect() as conn:
            return await self._meeting(conn, MeetingRow.device_id == _device(device_id), MeetingRow.ended_at.is_(None))

    async def stop_meeting(self, device_id: str, *, at: dt.datetime) -> StoppedMeeting | None:
        """Close the open session and return it with its lines; None when none is open."""
        device_id = _device(device_id)
        at = _aware(at, "at")
        async with self._engine.begin() as conn:
            closed = (
                await conn.execute(
                    update(MeetingRow)
                    .where(MeetingRow.device_id == device_id, MeetingRow.ended_at.is_(None))
                    .values(ended_at=at)
                    .returning(MeetingRow.meeting_id, MeetingRow.started_at)
                )
            ).first()
            if closed is None:
                return None
            if at < closed.started_at:  # a clock behind the start's: the session ends where it began
                at = closed.started_at
                await conn.execute(
                    update(MeetingRow)
                    .where(MeetingRow.device_id == device_id, MeetingRow.meeting_id == closed.meeting_id)
                    .values(ended_at=at)
                )
        # Strictly between: the start and stop commands end exactly at the bounds and are no part of the meeting.
        lines = await self.lines_between(device_id, closed.started_at, at, inclusive=False)
        return StoppedMeeting(closed.meeting_id, closed.started_at, at, lines)

    async def save_meeting_summary(
        self, device_id: str, meeting_id: str, summary: str, action_items: Sequence[str], engine: str, *, utterances: int | None = None
    ) -> bool:
        """Keep a stopped session's summary and action items; False when there is no such session."""
        device_id = _device(device_id)
        values: dict = {"summary": summary, "action_items": json.dumps(list(action_items), ensure_ascii=False), "engine": engine[:200]}
        if utterances is not None:
            values["utterances"] = utterances
        else:
            meeting = await self.meeting(device_id, meeting_id)
            if meeting is not None and meeting.ended_at is not None:
                values["utterances"] = len(await self.lines_between(device_id, meeting.started_at, meeting.ended_at, inclusive=False))
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(MeetingRow).where(MeetingRow.device_id == device_id, MeetingRow.meeting_id == meeting_id).values(**values)
            )
        return result.rowcount > 0

    async def meeting(self, device_id: str, meeting_id: str) -> Meeting | None:
        async with self._engine.connect() as conn:
            return await self._meeting(conn, MeetingRow.device_id == _device(device_id), MeetingRow.meeting_id == meeting_id)

    async def meeting_lines(self, device_id: str, meeting_id: str) -> list[Line]:
        """The lines said during a session (so far, if it is still open)."""
        meeting = await self.meeting(device_id, meeting_id)
        if meeting is None:
            return []
        return await self.lines_between(device_id, meeting.started_at, meeting.ended_at or dt.datetime.now(dt.UTC))

    async def meetings(self, device_id: str, *, limit: int = DEFAULT_LIMIT) -> list[Meeting]:
        """The device's sessions, newest first."""
        statement = (
            select(MeetingRow)
            .where(MeetingRow.device_id == _device(device_id))
            .order_by(MeetingRow.started_at.desc(), MeetingRow.id.desc())
            .limit(min(max(limit, 1), MAX_LIMIT))
        )
        async with self._engine.connect() as conn:
            return [_meeting_of(row) for row in (await conn.execute(statement)).all()]

    @staticmethod
    async def _meeting(conn: AsyncConnection, *where) -> Meeting | None:
        row = (await conn.execute(select(MeetingRow).where(*where))).first()
        return None if row is None else _meeting_of(row)

    # --- the schedule ---
    async def replace_or_merge_calendar(
        self, device_id: str, entries: Sequence[CalendarEntry], *, replace: bool = False, cancelled_uids: Sequence[str] = ()
    ) -> CalendarImport:
        """Load a parsed .ics in one transaction (all or nothing). replace: the device's
        schedule becomes `entries`. Merge: each event in the file (by its UID) replaces
        what was stored of it, cancelled UIDs are removed, every other event stays."""
        device_id = _device(device_id)
        rows = [
            {
                "device_id": device_id,
                "event_uid": entry.event_uid[:600],
                "base_uid": entry.base_uid[:512],
                "summary": entry.summary,
                "location": entry.location,
                "starts_at": _aware(entry.starts_at, "starts_at"),
                "ends_at": _aware(entry.ends_at, "ends_at"),
                "all_day": entry.all_day,
            }
            for entry in entries
        ]
        # The last of a duplicated occurrence wins, as a re-import of it would.
        rows = list({row["event_uid"]: row for row in rows}.values())
        removed = 0
        async with self._engine.begin() as conn:
            if replace:
                removed += (await conn.execute(delete(CalendarEventRow).where(CalendarEventRow.device_id == device_id))).rowcount
            else:
                uids = sorted({row["base_uid"] for row in rows} | {uid[:512] for uid in cancelled_uids})
                for start in range(0, len(uids), _CHUNK):
                    removed += (
                        await conn.execute(
                            delete(CalendarEventRow).where(
                                CalendarEventRow.device_id == device_id, CalendarEventRow.base_uid.in_(uids[start : start + _CHUNK])
                            )
                        )
                    ).rowcount
            for start in range(0, len(rows), _CHUNK):
                await conn.execute(CalendarEventRow.__table__.insert(), rows[start : start + _CHUNK])
        log.info(
            "calendar of %s: %d entries loaded, %d replaced or removed (%s)",
            device_id,
            len(rows),
            removed,
            "replace" if replace else "merge",
        )
        return CalendarImport(imported=len(rows), removed=removed)

    async def events_between(
        self, device_id: str, start: dt.datetime, end: dt.datetime, *, limit: int | None = None
    ) -> list[CalendarEntry]:
        """The device's entries overlapping [start, end) (under way at start included), by start time."""
        statement = (
            select(
                CalendarEventRow.event_uid,
                CalendarEventRow.base_uid,
                CalendarEventRow.summary,
                CalendarEventRow.starts_at,
                CalendarEventRow.ends_at,
                CalendarEventRow.location,
                CalendarEventRow.all_day,
            )
            .where(
                CalendarEventRow.device_id == _device(device_id),
                CalendarEventRow.starts_at < _aware(end, "end"),
                CalendarEventRow.ends_at > _aware(start, "start"),
            )
            .order_by(CalendarEventRow.starts_at, CalendarEventRow.event_uid)
        )
        if limit is not None:
            statement = statement.limit(max(limit, 0))
        async with self._engine.connect() as conn:
            return [CalendarEntry(*row) for row in (await conn.execute(statement)).all()]

    # --- retention ---
    async def expire(self, now: dt.datetime) -> Expired:
        """Remove lines (and calendar entries) that ended more than line_days ago, and
        notes and stopped meeting sessions older than notes_days."""
        now = _aware(now, "now")
        lines_before = now - dt.timedelta(days=self.retention.line_days)
        notes_before = now - dt.timedelta(days=self.retention.notes_days)
        async with self._engine.begin() as conn:
            expired = Expired(
                lines=(await conn.execute(delete(TranscriptRow).where(TranscriptRow.ended_at < lines_before))).rowcount,
                notes=(await conn.execute(delete(NoteRow).where(NoteRow.created_at < notes_before))).rowcount,
                meetings=(
                    await conn.execute(delete(MeetingRow).where(MeetingRow.ended_at.is_not(None), MeetingRow.ended_at < notes_before))
                ).rowcount,
                events=(await conn.execute(delete(CalendarEventRow).where(CalendarEventRow.ends_at < lines_before))).rowcount,
            )
        if any((expired.lines, expired.notes, expired.meetings, expired.events)):
            log.info("assistant store: past retention removed %s", expired)
        return expired


def _meeting_of(meeting) -> Meeting:
    try:
        items = tuple(json.loads(meeting.action_items))
    except (ValueError, TypeError):
        items = ()
    return Meeting(meeting.meeting_id, meeting.started_at, meeting.ended_at, meeting.summary, items, meeting.engine, meeting.utterances)

"""The assistant's persistent store (SQLite by default, PostgreSQL through
the same code, migrated at open): transcripts, notes, meeting-notes sessions
and schedules per device. Reminders are not here: they live in JetStream."""

from __future__ import annotations

from sightline_assistant.store.records import CalendarImport, Expired, Line, Meeting, Note, StoppedMeeting, StoreInputError
from sightline_assistant.store.retention import expire_forever
from sightline_assistant.store.store import DEFAULT_LIMIT, MAX_LIMIT, AssistantStore, Retention

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "AssistantStore",
    "CalendarImport",
    "Expired",
    "Line",
    "Meeting",
    "Note",
    "Retention",
    "StoppedMeeting",
    "StoreInputError",
    "expire_forever",
]

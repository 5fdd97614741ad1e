"""What the store hands out: plain values, not ORM rows."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from dataclasses import dataclass, field

from sightline.v1.assistant_pb2 import TranscriptLine
from sightline_runtime.transcript_format import PlainLine

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class StoreInputError(ValueError):
    """A value the store refuses (a bad device id, a naive time, a bad page token)."""


@dataclass(frozen=True)
class Line(PlainLine):
    """One utterance of the transcript, text in full (the fields the formats
    render, see sightline_runtime.transcript_format). `seq` orders lines that
    ended at the same instant and anchors the page tokens."""

    seq: int = 0

    def to_proto(self) -> TranscriptLine:
        line = TranscriptLine(
            utterance_id=self.utterance_id,
            text=self.text,
            language=self.language,
            translation=self.translation,
            translation_language=self.translation_language,
        )
        line.started_at.FromDatetime(self.started_at)
        line.ended_at.FromDatetime(self.ended_at)
        return line


@dataclass(frozen=True)
class Note:
    note_id: str
    text: str
    language: str
    created_at: dt.datetime


@dataclass(frozen=True)
class Meeting:
    """A meeting-notes session; ended_at is None while it runs."""

    meeting_id: str
    started_at: dt.datetime
    ended_at: dt.datetime | None = None
    summary: str = ""
    action_items: tuple[str, ...] = ()
    engine: str = ""
    utterances: int = 0


@dataclass(frozen=True)
class StoppedMeeting:
    """A session just stopped, with the lines said during it (for its summary)."""

    meeting_id: str
    started_at: dt.datetime
    ended_at: dt.datetime
    lines: list[Line] = field(default_factory=list)


@dataclass(frozen=True)
class CalendarImport:
    imported: int
    removed: int


@dataclass(frozen=True)
class Expired:
    lines: int = 0
    notes: int = 0
    meetings: int = 0
    events: int = 0


def token_after(line: Line) -> str:
    """The token of the page after `line`: its end time and seq, opaque to callers."""
    micros = (line.ended_at - _EPOCH) // dt.timedelta(microseconds=1)
    return base64.urlsafe_b64encode(f"{micros}:{line.seq}".encode()).decode().rstrip("=")


def read_page_token(token: str) -> tuple[dt.datetime, int]:
    try:
        micros, seq = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode().split(":")
        return _EPOCH + dt.timedelta(microseconds=int(micros)), int(seq)
    except (binascii.Error, UnicodeDecodeError, ValueError, OverflowError, OSError):
        raise StoreInputError(f"invalid page token {token[:40]!r}: pass next_page_token from the previous response") from None

"""A real database per test for the assistant store's tests: SQLite (a temp
file) and PostgreSQL (SIGHTLINE_TEST_POSTGRES_DSN, a schema of its own per
test, dropped afterwards). Without the DSN the PostgreSQL cases fail (the
runtime plugin's postgres_dsn), they never skip."""

from __future__ import annotations

import datetime as dt
import itertools
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sightline.v1.asr_pb2 import Transcript
from sightline.v1.translation_pb2 import TextOrigin, Translation, TranslationStatus

BACKENDS = ("sqlite", "postgresql")
SESSION_PREFIX = f"asst_{os.getpid()}_{secrets.token_hex(3)}"
_numbers = itertools.count(1)
T0 = dt.datetime(2026, 12, 3, 8, 0, tzinfo=dt.UTC)


def database_for(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(url, schema) of an empty database on the backend the test is parametrized with."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'assistant.db'}", ""
        return
    dsn = request.getfixturevalue("postgres_dsn")
    schema = f"{SESSION_PREFIX}_{next(_numbers)}"
    try:
        yield dsn, schema
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def final(utterance_id: str, text: str, *, seconds: float, length_s: float = 2.0, revision: int = 3, language: str = "en") -> Transcript:
    """A final as asr publishes it: speech that ended `seconds` after T0."""
    transcript = Transcript(utterance_id=utterance_id, revision=revision, is_final=True, text=text, language=language, target_language="zh")
    transcript.meta.event_id = f"asr-{utterance_id}-{revision}"
    transcript.meta.device_id = "dev-a"
    ended = T0 + dt.timedelta(seconds=seconds)
    transcript.meta.created_at.FromDatetime(ended + dt.timedelta(milliseconds=300))
    transcript.speech_started_at.FromDatetime(ended - dt.timedelta(seconds=length_s))
    transcript.speech_ended_at.FromDatetime(ended)
    return transcript


def translation(
    of: Transcript, text: str, *, revision: int | None = None, status: int = TranslationStatus.TRANSLATION_STATUS_OK
) -> Translation:
    """translation.final for a final: it names the utterance and the transcript event."""
    made = Translation(
        source_event_id=of.meta.event_id,
        utterance_id=of.utterance_id,
        revision=of.revision if revision is None else revision,
        is_final=True,
        origin=TextOrigin.TEXT_ORIGIN_SPEECH,
        source_language=of.language,
        target_language=of.target_language,
        source_text=of.text,
        text=text,
        engine="apertium",
        status=status,
    )
    made.meta.event_id = f"tr-{of.utterance_id}"
    made.meta.device_id = of.meta.device_id
    made.meta.created_at.FromDatetime(of.speech_ended_at.ToDatetime(tzinfo=dt.UTC) + dt.timedelta(milliseconds=700))
    return made

"""A transcript as Markdown, JSON or SubRip (.srt), every word of every line.

The HUD shows a long utterance as '…' and its last two lines; a transcript
never cuts: each line's text and translation are written whole. Pure: lines
in, text out (times in the zone given, UTC by default). Takes anything with
the TranscriptLine fields (the store's Line, or the proto with aware times
made by `from_proto`).

Here, not in the assistant, because its reader is the CLI (`sightline
transcript`), which never imports a service; the assistant re-exports it
(its domain.transcript_format).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol
from zoneinfo import ZoneInfo

from sightline.v1.assistant_pb2 import TranscriptLine

FORMATS = ("md", "json", "srt")
# A line without a usable span still shows for a moment in a player.
_MIN_SRT_S = 1.0


class LineLike(Protocol):
    utterance_id: str
    started_at: dt.datetime
    ended_at: dt.datetime
    text: str
    language: str
    translation: str
    translation_language: str


@dataclass(frozen=True)
class PlainLine:
    utterance_id: str
    started_at: dt.datetime
    ended_at: dt.datetime
    text: str
    language: str = ""
    translation: str = ""
    translation_language: str = ""


def from_proto(line: TranscriptLine) -> PlainLine:
    return PlainLine(
        line.utterance_id,
        line.started_at.ToDatetime(tzinfo=dt.UTC),
        line.ended_at.ToDatetime(tzinfo=dt.UTC),
        line.text,
        line.language,
        line.translation,
        line.translation_language,
    )


def render(lines: Iterable[LineLike], fmt: str, *, title: str = "Transcript", zone: dt.tzinfo = dt.UTC) -> str:
    if fmt == "md":
        return markdown(lines, title=title, zone=zone)
    if fmt == "json":
        return as_json(lines)
    if fmt == "srt":
        return srt(lines)
    raise ValueError(f"unknown transcript format {fmt!r}: one of {', '.join(FORMATS)}")


def markdown(lines: Iterable[LineLike], *, title: str = "Transcript", zone: dt.tzinfo = dt.UTC) -> str:
    """A heading per day, then one entry per utterance: its time, language,
    text and translation (quoted). Markdown in the speech is escaped so a
    '# ' or '* ' said aloud stays text."""
    out = [f"# {_escape(title)}", ""]
    day: dt.date | None = None
    for line in lines:
        started = line.started_at.astimezone(zone)
        if started.date() != day:
            day = started.date()
            out += [f"## {day.isoformat()}", ""]
        language = f" ({line.language})" if line.language else ""
        out.append(f"**{started:%H:%M:%S}**{language} {_escape(_one_paragraph(line.text))}")
        if line.translation:
            target = f"({line.translation_language}) " if line.translation_language else ""
            out.append(f"> {target}{_escape(_one_paragraph(line.translation))}")
        out.append("")
    if day is None:
        out += ["_No utterances._", ""]
    return "\n".join(out)


def as_json(lines: Iterable[LineLike]) -> str:
    """A JSON array, one object per utterance, RFC 3339 UTC times, text unescaped (UTF-8)."""
    return json.dumps([_json_line(line) for line in lines], ensure_ascii=False, indent=2) + "\n"


def _json_line(line: LineLike) -> dict[str, str]:
    return dict(
        utterance_id=line.utterance_id,
        started_at=_rfc3339(line.started_at),
        ended_at=_rfc3339(line.ended_at),
        language=line.language,
        text=line.text,
        translation=line.translation,
        translation_language=line.translation_language,
    )


def srt(lines: Sequence[LineLike] | Iterable[LineLike]) -> str:
    """SubRip cues timed from the first line's start: each cue from started_at to
    ended_at (at least a second), the text and, under it, the translation."""
    lines = list(lines)
    if not lines:
        return ""
    origin = min(line.started_at for line in lines)
    cues = []
    for number, line in enumerate(lines, start=1):
        start = (line.started_at - origin).total_seconds()
        end = max((line.ended_at - origin).total_seconds(), start + _MIN_SRT_S)
        body = [_cue_text(line.text)]
        if line.translation:
            body.append(_cue_text(line.translation))
        cues.append(f"{number}\n{_srt_time(start)} --> {_srt_time(end)}\n" + "\n".join(body) + "\n")
    return "\n".join(cues)


def _srt_time(seconds: float) -> str:
    millis = round(max(seconds, 0.0) * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d},{millis:03d}"


def _cue_text(text: str) -> str:
    # A blank line ends a cue in SubRip: the text's own blank lines would cut it.
    return "\n".join(part for part in text.strip().splitlines() if part.strip()) or "…"


def _one_paragraph(text: str) -> str:
    return " ".join(text.split())


_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_{}[]<>#|~"})


def _escape(text: str) -> str:
    escaped = text.translate(_MD_SPECIAL)
    # A leading '-', '+' or '1.' would start a list.
    if escaped[:1] in ("-", "+") or (escaped.split(" ", 1)[0].rstrip(".").isdigit() and escaped.split(" ", 1)[0].endswith(".")):
        escaped = "\\" + escaped
    return escaped


def _rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def zone_named(name: str) -> dt.tzinfo:
    """A zone for the timestamps of `markdown`: an IANA name, empty = UTC."""
    return ZoneInfo(name) if name else dt.UTC

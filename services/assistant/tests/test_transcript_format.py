"""Markdown, JSON and SubRip renderings of a transcript: every word, timed from the speech."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest
from sightline_assistant.domain.transcript_format import PlainLine, as_json, from_proto, markdown, render, srt
from sightline_assistant.store import Line

T0 = dt.datetime(2026, 12, 3, 8, 0, 0, tzinfo=dt.UTC)
# A 15 s sentence: on the HUD '…' and its last two lines; here whole.
LONG = (
    "So the plan for tomorrow is that we meet at the north exit of Shanghai Hongqiao station at half past eight, "
    "take the nine o'clock train to Hangzhou, drop the bags at the hotel by the lake and then walk to the tea museum "
    "before lunch, unless it rains, in which case we go straight to the museum"
)


def lines() -> list[Line]:
    return [
        Line("u1", T0, T0 + dt.timedelta(seconds=2.5), "Where is the train station?", "en", "火车站在哪里？", "zh", 1),
        Line("u2", T0 + dt.timedelta(seconds=4), T0 + dt.timedelta(seconds=19), LONG, "en", "明天的计划" * 30, "zh", 2),
        Line("u3", T0 + dt.timedelta(hours=8, seconds=1), T0 + dt.timedelta(hours=8, seconds=1), "# not a *heading*", "en", "", "", 3),
    ]


def test_markdown_has_each_utterance_whole_under_its_day() -> None:
    text = markdown(lines(), title="Transcript of dev-a", zone=ZoneInfo("Asia/Shanghai"))
    assert text.startswith(
        "# Transcript of dev-a\n\n## 2026-12-03\n\n**16:00:00** (en) Where is the train station?\n> (zh) 火车站在哪里？\n"
    )
    # The long sentence, every word of it, and its translation in full.
    assert LONG in text
    assert "明天的计划" * 30 in text
    # Midnight in Shanghai starts a new day; markdown said aloud stays text.
    assert "## 2026-12-04\n\n**00:00:01** (en) \\# not a \\*heading\\*\n" in text
    assert "_No utterances._" in markdown([], title="Transcript")


def test_json_is_one_array_of_full_lines_in_utc() -> None:
    parsed = json.loads(as_json(lines()))
    assert [entry["utterance_id"] for entry in parsed] == ["u1", "u2", "u3"]
    assert parsed[0] == {
        "utterance_id": "u1",
        "started_at": "2026-12-03T08:00:00.000Z",
        "ended_at": "2026-12-03T08:00:02.500Z",
        "language": "en",
        "text": "Where is the train station?",
        "translation": "火车站在哪里？",
        "translation_language": "zh",
    }
    assert parsed[1]["text"] == LONG
    assert "火车站" in as_json(lines())  # UTF-8, not \u escapes
    assert json.loads(as_json([])) == []


def test_srt_cues_run_from_start_to_end_of_speech() -> None:
    text = srt(lines())
    cues = text.split("\n\n")
    assert cues[0] == "1\n00:00:00,000 --> 00:00:02,500\nWhere is the train station?\n火车站在哪里？"
    assert cues[1].startswith("2\n00:00:04,000 --> 00:00:19,000\n" + LONG + "\n")
    # No span (start = end): shown for a second rather than never.
    assert cues[2] == "3\n08:00:01,000 --> 08:00:02,000\n# not a *heading*\n"
    assert srt([]) == ""


def test_a_blank_line_inside_speech_does_not_end_a_cue() -> None:
    line = PlainLine("u1", T0, T0 + dt.timedelta(seconds=3), "first part\n\nsecond part")
    assert srt([line]) == "1\n00:00:00,000 --> 00:00:03,000\nfirst part\nsecond part\n"


def test_proto_lines_render_the_same_as_store_lines() -> None:
    stored = lines()
    from_wire = [from_proto(line.to_proto()) for line in stored]
    for fmt in ("md", "json", "srt"):
        assert render(from_wire, fmt) == render(stored, fmt)
    with pytest.raises(ValueError, match="unknown transcript format 'txt'"):
        render(stored, "txt")

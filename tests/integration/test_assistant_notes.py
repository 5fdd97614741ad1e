"""Meeting notes and the transcript on a real nats-server: "start meeting
notes", finals, "stop" → MeetingNotes on assistant.notes.<d> and a
MEETING_NOTES card, extractive by default, from the real SmolLM2 model when
one is configured (or the extractive fallback, with the reason logged), and
extractive again when the model fails; the transcript returns every final in
full with its translation."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from sightline.v1.assistant_pb2 import ReplyKind
from sightline.v1.translation_pb2 import TextOrigin, Translation, TranslationStatus
from sightline_assistant.app import create_service
from sightline_runtime import subjects
from sightline_runtime.events import event_headers, new_meta

from tests.integration.test_assistant_commands import AssistantBus, assistant_settings

MEETING = [
    "Thanks everyone for joining, let's go through the launch plan.",
    "The firmware build for the glasses passed all tests yesterday.",
    "I will send the report by Friday.",
    "Maria will book the venue for the demo next week.",
    "We agreed to move the beta to the second of March.",
]


@pytest.fixture
async def bus(nc, owner_streams) -> AssistantBus:
    return await AssistantBus(nc).start()


async def _meeting(bus: AssistantBus, device: str):
    start = await bus.say(device, "hey sightline start meeting notes")
    assert (await bus.reply(start)).kind == ReplyKind.REPLY_KIND_ACKNOWLEDGED
    for line in MEETING:
        await bus.say(device, line)
    stop = await bus.say(device, "hey sightline stop meeting notes")
    card = await bus.reply(stop, timeout_s=60)
    [notes] = await bus.until(lambda: [n for n in bus.notes if n.meta.device_id == device], 10, "MeetingNotes")
    assert card.kind == ReplyKind.REPLY_KIND_MEETING_NOTES, bus.cards_text()
    assert notes.meta.causation_id == bus.command_of(stop).meta.event_id
    # The finals in between (the two commands are no part of the meeting).
    assert notes.utterances == len(MEETING)
    assert notes.summary
    assert card.body == notes.summary
    assert list(card.items) == list(notes.action_items)
    return notes, card


async def test_meeting_notes_are_extractive_without_an_llm(nats_server, run_service, tmp_path, assistant_understander, bus, registry):
    await registry.add("notes-1")
    await run_service(create_service(assistant_settings(nats_server.url, tmp_path / "a"), understander=assistant_understander))
    notes, _ = await _meeting(bus, "notes-1")
    assert notes.engine == "extractive"
    assert any("send the report by Friday" in item for item in notes.action_items), list(notes.action_items)
    assert any("book the venue" in item for item in notes.action_items), list(notes.action_items)


async def test_meeting_notes_from_the_real_model_or_its_reported_fallback(
    nats_server, run_service, tmp_path, assistant_understander, bus, registry, llm_server, caplog
):
    await registry.add("notes-2")
    settings = assistant_settings(nats_server.url, tmp_path / "a", llm_base_url=llm_server.base_url, llm_model=llm_server.model)
    await run_service(create_service(settings, understander=assistant_understander))
    with caplog.at_level(logging.WARNING, logger="sightline_assistant"):
        notes, _ = await _meeting(bus, "notes-2")
    fell_back = [r for r in caplog.records if r.getMessage().startswith("LLM meeting notes failed")]
    # SmolLM2-135M may not write the JSON asked for: then the extractive notes, and the log says why.
    assert notes.engine in (llm_server.model, "extractive"), notes.engine
    if notes.engine == "extractive":
        assert fell_back, "a fallback is logged"
        assert fell_back[0].reason, "a fallback says why"
    else:
        assert not fell_back
    print(f"meeting notes engine: {notes.engine}; fallback reason: {fell_back[0].reason if fell_back else '-'}")


async def test_meeting_notes_fall_back_to_extractive_when_the_model_fails(
    nats_server, run_service, tmp_path, assistant_understander, bus, registry, llm_proxy, llm_server, caplog
):
    await registry.add("notes-3")
    llm_proxy.mode = "status_500"
    settings = assistant_settings(nats_server.url, tmp_path / "a", llm_base_url=llm_proxy.url, llm_model=llm_server.model)
    await run_service(create_service(settings, understander=assistant_understander))
    with caplog.at_level(logging.WARNING, logger="sightline_assistant"):
        notes, _ = await _meeting(bus, "notes-3")
    assert notes.engine == "extractive"
    assert any("send the report by Friday" in item for item in notes.action_items)
    [failed] = [r for r in caplog.records if r.getMessage().startswith("LLM meeting notes failed")]
    assert "500" in failed.reason or "status" in failed.reason, failed.reason


async def test_the_transcript_has_every_final_in_full_with_its_translation(
    nats_server, run_service, tmp_path, assistant_understander, bus, registry
):
    await registry.add("notes-4")
    await run_service(create_service(assistant_settings(nats_server.url, tmp_path / "a"), understander=assistant_understander))
    ended = datetime.now(UTC)
    long_sentence = " ".join(
        ["So the plan for the next quarter is to ship the translation glasses to the first three hundred customers"]
        + [f"in city number {n} with a local support team and a weekly review of the returns" for n in range(12)]
    )
    spoken = [
        (long_sentence, ended - timedelta(seconds=15), ended - timedelta(seconds=1)),
        ("Where is the train station?", ended - timedelta(milliseconds=800), ended),
    ]
    finals = [await bus.say("notes-4", text, started=start, ended=end) for text, start, end in spoken]
    translated = Translation(
        meta=new_meta("notes-4", "translation"),
        source_event_id=finals[1].meta.event_id,
        utterance_id=finals[1].utterance_id,
        revision=1,
        is_final=True,
        origin=TextOrigin.TEXT_ORIGIN_SPEECH,
        source_language="en",
        target_language="zh",
        source_text=finals[1].text,
        text="火车站在哪里？",
        engine="test-publisher",
        status=TranslationStatus.TRANSLATION_STATUS_OK,
    )
    await bus.js.publish(
        subjects.domain("translation", "final", "notes-4"),
        translated.SerializeToString(),
        headers=event_headers(translated),
        stream="TRANSLATION",
    )

    async def lines():
        got = (await bus.transcript("notes-4")).lines
        return got if len(got) == 2 and got[1].translation else None

    for _ in range(100):
        if found := await lines():
            break
        await bus.quiet(0.1)
    else:
        raise AssertionError(f"transcript incomplete: {(await bus.transcript('notes-4')).lines}")
    first, second = found
    assert first.text == long_sentence
    assert len(long_sentence) > 700
    assert first.utterance_id == finals[0].utterance_id
    assert (first.ended_at.ToDatetime(tzinfo=UTC) - first.started_at.ToDatetime(tzinfo=UTC)).total_seconds() == pytest.approx(14, abs=0.01)
    assert (second.text, second.translation, second.translation_language) == (finals[1].text, "火车站在哪里？", "zh")
    assert first.translation == ""

"""Bad input to the assistant on a real nats-server: each kind its handlers
take gets a clear error (an ERROR card that says why, a log line with the
device, a count on /metrics, or the runtime's dead letter and ErrorEvent for
what cannot even be decoded), never a crash or a redelivery loop (a good
command is still answered afterwards), and nothing is lost (the final is
still in the transcript, or the refused payload in the dead letters).

Not here: a 10,000-character notification (services/assistant/tests/
test_notify_ingress.py) and a malformed .ics (test_rpc.py)."""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sightline.v1.asr_pb2 import Transcript
from sightline.v1.assistant_pb2 import ReplyKind
from sightline.v1.errors_pb2 import ErrorCode, ErrorEvent
from sightline.v1.input_pb2 import Confirmation, DeviceInput, IntentKind, VoiceIntent
from sightline.v1.translation_pb2 import TextOrigin, Translation, TranslationStatus
from sightline_asr.bus import ASR
from sightline_assistant.app import create_service
from sightline_assistant.bus import ASSISTANT_TIMERS
from sightline_runtime import subjects
from sightline_runtime.consumer import DLQ_REASON, DLQ_SUBJECT
from sightline_runtime.events import event_headers, new_meta
from sightline_runtime.pytest_plugin import running_service
from sightline_runtime.streams import GLASSES_UP
from sightline_translation.bus import TRANSLATION
from sightline_vision.bus import VISION

from tests.integration import test_assistant_commands as commands
from tests.integration.streams import read_stream
from tests.integration.test_assistant_commands import AssistantBus, assistant_settings

# The fixtures of the assistant's command tests: a real assistant (SQLite store) and what it shows.
assistant = commands.assistant
bus = commands.bus

K = ReplyKind
DIDNT_CATCH = "Sorry, I didn't catch that"
HANDLERS_LOG = "sightline_assistant.handlers"
CONSUMER_LOG = "sightline_runtime.consumer"


async def metric(served, name: str, /, **labels: str) -> float:
    """A sample as the service's /metrics serves it (0 when the series does not exist yet)."""
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"http://127.0.0.1:{served.settings.http_port}/metrics", timeout=5)).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


async def finals(service, outcome: str) -> float:
    return await metric(service, "sightline_assistant_finals_total", outcome=outcome)


async def still_answers(bus: AssistantBus, device: str) -> None:
    """No crash: a good command after the bad input is understood and answered."""
    final = await bus.say(device, "hey sightline take a note the assistant is still here")
    card = await bus.reply(final)
    assert card.kind == K.REPLY_KIND_ACKNOWLEDGED, bus.cards_text()
    assert bus.command_of(final).intent == IntentKind.INTENT_KIND_TAKE_NOTE


async def lines_of(bus: AssistantBus, device: str, count: int, timeout_s: float = 10.0) -> list:
    """The device's transcript once it has `count` lines (the store writes before the card goes out)."""
    async with asyncio.timeout(timeout_s):
        while len(lines := (await bus.transcript(device)).lines) < count:
            await asyncio.sleep(0.05)
    return list(lines)


async def timers_waiting(js) -> dict:
    info = await js.stream_info(ASSISTANT_TIMERS.name, subjects_filter="assistant.timer.>")
    return info.state.subjects or {}


def logged(caplog, message: str, **fields: object) -> list[logging.LogRecord]:
    return [r for r in caplog.records if message in r.getMessage() and all(getattr(r, k, None) == v for k, v in fields.items())]


# --- speech that says nothing ---
async def test_an_empty_final_is_counted_shows_nothing_and_leaves_command_mode_open(assistant, bus, registry):
    """ASR may close an utterance it heard nothing in. Such a final is no
    caption, no command and no transcript line; and it must not use up the
    command mode the action button opened for the next thing said."""
    await registry.add("bad-empty")
    await bus.action_button("bad-empty")
    await bus.until(lambda: bus.of("bad-empty", K.REPLY_KIND_BRIEFING), what="the day's briefing")
    await bus.action_button("bad-empty")
    await bus.until(lambda: bus.of("bad-empty", K.REPLY_KIND_ACKNOWLEDGED), what="Listening…")
    cards_before = len(bus.replies)
    empty = await bus.say("bad-empty", "")
    blank = await bus.say("bad-empty", " \t\n ")
    # Command mode is still open: this one needs no wake phrase.
    photo = await bus.say("bad-empty", "take a photo")
    await bus.reply(photo)
    assert bus.command_of(photo).intent == IntentKind.INTENT_KIND_TAKE_PHOTO
    assert bus.reply_to(empty) is None
    assert bus.reply_to(blank) is None
    assert len(bus.replies) == cards_before + 1, bus.cards_text()
    assert await finals(assistant, "empty") == 2
    assert await finals(assistant, "caption") == 0
    # Only the spoken final is a transcript line, and only it is counted as one.
    assert [line.text for line in await lines_of(bus, "bad-empty", 1)] == ["take a photo"]
    assert await metric(assistant, "sightline_assistant_transcript_lines_total", kind="final") == 1
    await still_answers(bus, "bad-empty")


async def test_punctuation_only_is_a_caption_and_in_command_mode_a_clear_not_understood(assistant, bus, registry):
    """Noise ASR writes as punctuation: a caption line like any other; when the
    button asked for a command, the card says it was not understood (no
    silent nothing), and a wake phrase followed by it is the wake phrase alone."""
    await registry.add("bad-punct")
    caption = await bus.say("bad-punct", " …?! ... -- ")
    await bus.action_button("bad-punct")  # the day's briefing
    await bus.until(lambda: bus.of("bad-punct", K.REPLY_KIND_BRIEFING), what="the briefing")
    await bus.action_button("bad-punct")
    await bus.until(lambda: bus.of("bad-punct", K.REPLY_KIND_ACKNOWLEDGED), what="Listening…")
    commanded = await bus.say("bad-punct", "?!…")
    card = await bus.reply(commanded)
    assert (card.kind, card.title, card.body) == (K.REPLY_KIND_ERROR, DIDNT_CATCH, "?!…")
    assert bus.command_of(commanded) is None
    woken = await bus.say("bad-punct", "Hey Sightline?!…")
    await bus.until(lambda: len(bus.of("bad-punct", K.REPLY_KIND_ACKNOWLEDGED)) == 2, what="Listening… for the wake phrase alone")
    assert bus.command_of(woken) is None
    assert bus.reply_to(caption) is None
    assert await finals(assistant, "caption") == 1
    assert await finals(assistant, "not_understood") == 1
    assert await finals(assistant, "woken") == 1
    lines = await lines_of(bus, "bad-punct", 3)
    assert [line.text for line in lines] == [caption.text, commanded.text, woken.text]
    await still_answers(bus, "bad-punct")


# --- garbage after the wake phrase ---
def _garbage() -> list[str]:
    rng = random.Random(20261204)
    random_bytes = bytes(rng.randrange(256) for _ in range(160)).decode("utf-8", errors="replace")
    assert "\x00" in random_bytes, "the seed gives a NUL, as random bytes do"
    return [
        random_bytes,
        "🤖🔥💯🙈🎉🍕🚀👀✨🥲🫠🧠" * 3,
        "👩‍👩‍👧‍👦🏳️‍🌈👨🏽‍🚀 ❤️‍🔥 🇨🇳🇬🇧" * 4,
    ]


@pytest.fixture(params=["sqlite", "postgresql"])
async def any_store_assistant(request, nats_server, tmp_path, assistant_understander, owner_streams):
    """The assistant on either store; PostgreSQL in a schema of its own, dropped afterwards."""
    options = {}
    if request.param == "postgresql":
        dsn = request.getfixturevalue("postgres_dsn")
        options = {"assistant_db_url": dsn, "assistant_db_schema": f"asst_bad_{secrets.token_hex(4)}"}
    settings = assistant_settings(nats_server.url, tmp_path / "assistant", **options)
    try:
        async with running_service(create_service(settings, understander=assistant_understander)) as service:
            yield service
    finally:
        if options:
            with psycopg.connect(options["assistant_db_url"], autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{options["assistant_db_schema"]}" CASCADE')


async def test_garbage_after_the_wake_phrase_is_not_understood_and_kept_on_either_store(any_store_assistant, bus, registry, caplog):
    """Random bytes decoded (control characters and a NUL among them) and emoji
    soup after the wake phrase: "didn't catch that" with what was heard, no
    Command, and the line kept whole. PostgreSQL text cannot hold a NUL: the
    line is kept with U+FFFD in its place (said in the log), not failed on
    every delivery and lost."""
    service = any_store_assistant
    await registry.add("bad-junk")
    garbage = _garbage()
    with caplog.at_level(logging.WARNING, logger=HANDLERS_LOG):
        said = [await bus.say("bad-junk", "Hey Sightline, " + text) for text in garbage]
        cards = [await bus.reply(final) for final in said]
    for text, final, card in zip(garbage, said, cards, strict=True):
        assert (card.kind, card.title) == (K.REPLY_KIND_ERROR, DIDNT_CATCH), bus.cards_text()
        assert card.body == text.replace("\x00", "\ufffd").strip(" \t,，.。!！?？:：;；、-—~").strip()
        assert bus.command_of(final) is None
    assert not bus.device_commands
    assert await finals(service, "not_understood") == 3
    lines = await lines_of(bus, "bad-junk", 3)
    assert [line.text for line in lines] == [f.text.replace("\x00", "\ufffd") for f in said]
    assert logged(caplog, "NUL characters in a final", device_id="bad-junk", event_id=said[0].meta.event_id)
    assert await metric(service, "sightline_events_handled_total", handler="asr_final", outcome="retried") == 0
    await still_answers(bus, "bad-junk")


async def test_a_nul_in_a_translation_is_kept_with_its_line(any_store_assistant, bus, registry):
    """The same for translation.final: the transcript line gets its translation (U+FFFD for the NUL)."""
    await registry.add("bad-nul")
    final = await bus.say("bad-nul", "Where is the train station?")
    translated = Translation(
        meta=new_meta("bad-nul", "translation"),
        source_event_id=final.meta.event_id,
        utterance_id=final.utterance_id,
        revision=1,
        is_final=True,
        origin=TextOrigin.TEXT_ORIGIN_SPEECH,
        source_language="en",
        target_language="zh",
        source_text=final.text,
        text="火车站\x00在哪里？",
        engine="test-publisher",
        status=TranslationStatus.TRANSLATION_STATUS_OK,
    )
    await bus.js.publish(
        subjects.domain("translation", "final", "bad-nul"),
        translated.SerializeToString(),
        headers=event_headers(translated),
        stream="TRANSLATION",
    )
    async with asyncio.timeout(10):
        while not (lines := (await bus.transcript("bad-nul")).lines) or not lines[0].translation:
            await asyncio.sleep(0.05)
    assert [(line.text, line.translation) for line in lines] == [(final.text, "火车站\ufffd在哪里？")]
    assert await metric(any_store_assistant, "sightline_assistant_transcript_lines_total", kind="translation") == 1
    assert await metric(any_store_assistant, "sightline_events_handled_total", handler="translation_final", outcome="retried") == 0


# --- too long ---
async def test_a_10000_character_final_is_kept_whole_and_refused_as_a_command(assistant, bus, registry, caplog):
    """A dictation after the wake phrase: the transcript keeps all of it; the
    command path does not cut it to the understanding's 400 characters and
    obey what is left ("take a note" of a truncated text), it says why not."""
    await registry.add("bad-long")
    words = "the quarterly numbers look fine and the team agreed to ship on time "
    rest = "take a note " + (words * 200)[: 10_000 - len("take a note ") - 1] + "."
    assert len(rest) == 10_000
    with caplog.at_level(logging.INFO, logger=HANDLERS_LOG):
        final = await bus.say("bad-long", "Hey Sightline, " + rest)
        card = await bus.reply(final)
    assert card.kind == K.REPLY_KIND_ERROR
    assert card.title == "That's too long for a command"
    assert card.body == "10000 characters; a command is at most 400. It is kept in the transcript."
    assert bus.command_of(final) is None
    assert await finals(assistant, "too_long") == 1
    assert logged(caplog, "command too long", device_id="bad-long", chars=10_000, max_chars=400, utterance_id=final.utterance_id)
    [line] = await lines_of(bus, "bad-long", 1)
    assert line.text == final.text
    assert len(line.text) == len("Hey Sightline, ") + 10_000
    await still_answers(bus, "bad-long")
    # The note taken afterwards is the good command's, not a truncated dictation.
    assert [c.slots["text"] for c in bus.commands if c.intent == IntentKind.INTENT_KIND_TAKE_NOTE] == ["the assistant is still here"]


# --- what cannot be decoded ---
MALFORMED = [
    # (subject of device bad-proto, stream, handler, durable)
    ("asr.final.bad-proto", ASR.name, "asr_final", "assistant-asr-finals"),
    ("translation.final.bad-proto", TRANSLATION.name, "translation_final", "assistant-translation-finals"),
    ("glasses.bad-proto.up.input", GLASSES_UP.name, "device_input", "assistant-input"),
    ("vision.result.bad-proto", VISION.name, "vision_result", "assistant-vision-results"),
]


@pytest.mark.parametrize(("subject", "stream", "handler", "durable"), MALFORMED, ids=[m[2] for m in MALFORMED])
async def test_malformed_protobuf_is_dead_lettered_counted_and_not_redelivered(
    assistant, bus, registry, nc, caplog, subject, stream, handler, durable
):
    """Bytes that are no protobuf on each subject the assistant consumes: the
    runtime's guard refuses them before the handler (a dead letter keeping the
    payload, a MALFORMED ErrorEvent, a count and a log line), terminates them
    (no redelivery loop), and the assistant goes on answering."""
    await registry.add("bad-proto")
    js = nc.jetstream()
    body = b"\xff\xfe\x00 not a protobuf \x08\x96"
    with caplog.at_level(logging.WARNING, logger=CONSUMER_LOG):
        ack = await js.publish(subject, body, stream=stream)
        [dead] = await read_stream(js, "DEAD_LETTERS", f"dlq.assistant.{handler}", count=1)
    assert dead.data == body, "the dead letter keeps the payload for inspection and replay"
    assert (dead.headers[DLQ_REASON], dead.headers[DLQ_SUBJECT]) == ("malformed", subject)
    [error_msg] = await read_stream(js, "ERRORS", "errors.assistant.>", count=1)
    error = ErrorEvent.FromString(error_msg.data)
    assert error.code == ErrorCode.ERROR_CODE_MALFORMED
    assert (error.service, error.handler, error.payload_size) == ("assistant", handler, len(body))
    assert await metric(assistant, "sightline_events_rejected_total", service="assistant", handler=handler, reason="malformed") == 1
    assert [r for r in caplog.records if getattr(r, "reason", "") == "malformed" and getattr(r, "subject", "") == subject]
    info = await js.consumer_info(stream, durable)
    assert (info.num_ack_pending, info.num_redelivered) == (0, 0), "terminated, not redelivered"
    assert info.delivered.stream_seq >= ack.seq
    assert not [r for _, r in bus.replies if r.meta.device_id == "bad-proto"]
    await still_answers(bus, "bad-proto")


# --- who said it ---
async def test_a_final_of_an_unknown_device_is_refused_and_kept_in_the_dead_letters(assistant, bus, registry, nc, caplog):
    """A command from a device the registry does not know is not obeyed, nor
    its line kept in anyone's transcript; the dead letter keeps it whole."""
    await registry.add("bad-known")
    js = nc.jetstream()
    with caplog.at_level(logging.WARNING, logger=CONSUMER_LOG):
        stranger = await bus.say("bad-stranger", "hey sightline buy this")
        [dead] = await read_stream(js, "DEAD_LETTERS", "dlq.assistant.asr_final", count=1)
    assert Transcript.FromString(dead.data) == stranger
    assert dead.headers[DLQ_REASON] == "unknown_device"
    [error_msg] = await read_stream(js, "ERRORS", "errors.assistant.>", count=1)
    error = ErrorEvent.FromString(error_msg.data)
    assert error.code == ErrorCode.ERROR_CODE_UNKNOWN_DEVICE
    assert "'bad-stranger' is not provisioned" in error.message
    assert await metric(assistant, "sightline_events_rejected_total", handler="asr_final", reason="unknown_device") == 1
    assert [r for r in caplog.records if getattr(r, "reason", "") == "unknown_device" and getattr(r, "device_id", "") == "bad-stranger"]
    await still_answers(bus, "bad-known")
    assert bus.command_of(stranger) is None
    assert bus.reply_to(stranger) is None
    assert not (await bus.transcript("bad-stranger")).lines
    assert await finals(assistant, "command") == 1, "only the known device's command"


# --- reminders ---
async def test_a_reminder_for_a_device_with_an_unknown_time_zone_is_refused_saying_so(assistant, bus, registry, nc, caplog):
    """A registry record naming no real zone: understanding goes on in UTC
    (logged once with the device), but a reminder is not set on a guessed zone:
    the card names the zone, nothing is scheduled, the refusal is counted."""
    await registry.add("bad-zone")
    assert await registry.update("bad-zone", lambda record: setattr(record, "time_zone", "Mars/Olympus") or True)
    await asyncio.sleep(0.5)  # the assistant's registry mirror follows the KV watch
    with caplog.at_level(logging.WARNING, logger=HANDLERS_LOG):
        final = await bus.say("bad-zone", "hey sightline remind me in 10 minutes to water the plants")
        card = await bus.reply(final)
    assert card.kind == K.REPLY_KIND_ERROR, bus.cards_text()
    assert (card.title, card.body) == ("Couldn't set the reminder", "unknown time zone 'Mars/Olympus'")
    assert bus.command_of(final).intent == IntentKind.INTENT_KIND_SET_REMINDER
    assert logged(caplog, "unknown time zone, using UTC", device_id="bad-zone")
    assert await metric(assistant, "sightline_assistant_reminders_total", outcome="refused") == 1
    assert await metric(assistant, "sightline_assistant_reminders_total", outcome="set") == 0
    assert not await timers_waiting(nc.jetstream())
    assert [line.text for line in await lines_of(bus, "bad-zone", 1)] == [final.text]
    await still_answers(bus, "bad-zone")


async def test_a_reminder_at_a_time_that_passed_a_minute_ago_is_refused_saying_when(assistant, bus, registry, nc):
    """ "remind me today at <a minute ago>": not moved to tomorrow, not set in
    the past; the card says which time passed, in the wearer's words."""
    await registry.add("bad-past")
    now = datetime.now(UTC)
    if (now - timedelta(seconds=60)).date() != now.date():
        await asyncio.sleep(65)  # a minute ago was yesterday: "today at" it would be a different case
        now = datetime.now(UTC)
    ago = now - timedelta(seconds=60)
    phrase = f"hey sightline remind me today at {ago:%I:%M} {'pm' if ago.hour >= 12 else 'am'} to call the bank"
    final = await bus.say("bad-past", phrase)
    card = await bus.reply(final)
    assert card.kind == K.REPLY_KIND_ERROR, bus.cards_text()
    assert card.title == "Couldn't set the reminder"
    assert card.body.startswith(f"that time has passed: {ago:%H:%M} today (it is "), card.body
    assert bus.command_of(final) is None, "nothing to act on"
    assert await finals(assistant, "invalid") == 1
    assert await metric(assistant, "sightline_assistant_reminders_total", outcome="refused") == 1
    assert not await timers_waiting(nc.jetstream())
    assert [line.text for line in await lines_of(bus, "bad-past", 1)] == [phrase]
    await still_answers(bus, "bad-past")


async def test_a_reminder_text_over_the_limit_is_refused_spoken_or_from_the_glasses(
    nats_server, run_service, tmp_path, assistant_understander, bus, registry, nc
):
    """SIGHTLINE_REMINDER_MAX_TEXT_CHARS (40 here; by default 500, more than a
    spoken command's 400 characters, so the too-long refusal above comes
    first): a longer text is refused with the limit on the card, whether the
    assistant or the glasses understood the command."""
    settings = assistant_settings(nats_server.url, tmp_path / "assistant", reminder_max_text_chars=40)
    service = await run_service(create_service(settings, understander=assistant_understander))
    await registry.add("bad-text")
    text = "pick up the dry cleaning and the parcel from the post office"
    assert len(text) > 40
    final = await bus.say("bad-text", f"hey sightline remind me in 10 minutes to {text}")
    spoken = await bus.reply(final)
    glasses = await bus.press(
        "bad-text",
        voice_intent=VoiceIntent(
            kind=IntentKind.INTENT_KIND_SET_REMINDER, transcript="(glasses)", slots={"text": "x" * 41, "due_at": final_due(minutes=5)}
        ),
    )
    [_, from_glasses] = await bus.until(lambda: len(errors := bus.of("bad-text", K.REPLY_KIND_ERROR)) == 2 and errors)
    for card in (spoken, from_glasses):
        assert card.kind == K.REPLY_KIND_ERROR, bus.cards_text()
        assert (card.title, card.body) == ("Couldn't set the reminder", "a reminder's text is at most 40 characters")
    assert bus.command_of(final).slots["text"] == text, "the command had the whole text"
    assert [c.understood_by for c in bus.commands] == ["grammar", "glasses"]
    assert glasses.meta.event_id in {c.meta.causation_id for c in bus.commands}
    assert await metric(service, "sightline_assistant_reminders_total", outcome="refused") == 2
    assert not await timers_waiting(nc.jetstream())
    assert [line.text for line in await lines_of(bus, "bad-text", 1)] == [final.text]
    await still_answers(bus, "bad-text")


def final_due(*, minutes: float) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()


# --- answers to "Did you mean …?" ---
async def test_a_yes_to_an_expired_or_unknown_suggestion_says_so_and_does_nothing(
    nats_server, run_service, tmp_path, assistant_understander, bus, registry, caplog
):
    """The offer lives SIGHTLINE_SUGGESTION_TTL_S (1 s here): a Yes after it,
    or to an id never offered, does not act, and the wearer is told, rather
    than left waiting for a photo that never comes."""
    settings = assistant_settings(nats_server.url, tmp_path / "assistant", suggestion_ttl_s=1.0)
    service = await run_service(create_service(settings, understander=assistant_understander))
    await registry.add("bad-yes")
    await bus.say("bad-yes", "hey sightline capture the moment")
    [offer] = await bus.until(lambda: bus.of("bad-yes", K.REPLY_KIND_SUGGESTION), what="the suggestion")
    yes = offer.actions[0].action_id
    await asyncio.sleep(1.3)
    with caplog.at_level(logging.INFO, logger=HANDLERS_LOG):
        late = await bus.answer("bad-yes", yes, approved=True)
        unknown = await bus.answer("bad-yes", "suggest-000000000000", approved=True)
        cards = await bus.until(lambda: len(errors := bus.of("bad-yes", K.REPLY_KIND_ERROR)) == 2 and errors, what="two error cards")
    for card, answered, action_id in zip(cards, (late, unknown), (yes, "suggest-000000000000"), strict=True):
        assert (card.title, card.body) == ("That question has expired", "Nothing was done. Say the command again.")
        assert (card.meta.causation_id, card.reference_id) == (answered.meta.event_id, action_id)
    assert logged(caplog, "a Yes to no pending suggestion", device_id="bad-yes", reference_id=yes)
    await bus.quiet(1.0)
    assert not bus.device_commands, "no photo for an expired offer"
    assert not [c for c in bus.commands if c.understood_by == "suggestion"]
    assert await metric(service, "sightline_assistant_suggestions_total", outcome="expired") == 2
    assert await metric(service, "sightline_assistant_suggestions_total", outcome="accepted") == 0
    await still_answers(bus, "bad-yes")


async def test_a_yes_from_another_device_does_not_act_on_this_devices_offer(assistant, bus, registry, nc):
    """Device B answering A's "Did you mean" (its own input, or forged on A's
    subject): nothing happens on either device, B is told, the forged one is
    dead-lettered as a device mismatch, and A's offer is still A's to accept."""
    await registry.add("bad-a")
    await registry.add("bad-b")
    js = nc.jetstream()
    await bus.say("bad-a", "hey sightline capture the moment")
    [offer] = await bus.until(lambda: bus.of("bad-a", K.REPLY_KIND_SUGGESTION), what="A's suggestion")
    yes = offer.actions[0].action_id
    await bus.answer("bad-b", yes, approved=True)
    [told] = await bus.until(lambda: bus.of("bad-b", K.REPLY_KIND_ERROR), what="B told the offer is not there")
    assert told.title == "That question has expired"
    forged = DeviceInput(meta=new_meta("bad-b", "glasses"), confirmation=Confirmation(reference_id=yes, approved=True))
    await js.publish(subjects.up_input("bad-a"), forged.SerializeToString(), headers=event_headers(forged), stream=GLASSES_UP.name)
    [dead] = await read_stream(js, "DEAD_LETTERS", "dlq.assistant.device_input", count=1)
    assert dead.headers[DLQ_REASON] == "device_mismatch"
    assert dead.data == forged.SerializeToString()
    await bus.quiet(1.0)
    assert not bus.device_commands
    assert not bus.of("bad-a", K.REPLY_KIND_ERROR)
    assert await metric(assistant, "sightline_events_rejected_total", handler="device_input", reason="device_mismatch") == 1
    # A's own Yes still takes A's photo.
    await bus.answer("bad-a", yes, approved=True)
    [taken] = await bus.until(lambda: bus.device_commands, what="A's photo")
    assert (taken.meta.device_id, taken.take_photo.purpose) == ("bad-a", "photo")
    assert await metric(assistant, "sightline_assistant_suggestions_total", outcome="accepted") == 1
    assert await metric(assistant, "sightline_assistant_suggestions_total", outcome="expired") == 1

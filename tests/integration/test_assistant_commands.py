"""The assistant on a real nats-server: finals published on asr.final.<d>
(stream ASR, as asr does) become Commands on assistant.command.<d>, the
AssistantReply cards and DeviceCommands on glasses.<d>.down.command; captions
stay captions, command mode, the wake phrase alone (the day's briefing, then
"Listening…"), "Did you mean" with Yes / No, stale finals, exactly once, and
two replicas sharing the durables."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from sightline.v1.asr_pb2 import Transcript
from sightline.v1.assistant_pb2 import (
    AssistantReply,
    Command,
    GetTranscriptRequest,
    GetTranscriptResponse,
    ImportCalendarRequest,
    ImportCalendarResponse,
    MeetingNotes,
    ReplyKind,
)
from sightline.v1.device_pb2 import DeviceCommand
from sightline.v1.input_pb2 import Button, ButtonPress, Confirmation, DeviceInput, IntentKind
from sightline_assistant.app import create_service
from sightline_assistant.settings import AssistantSettings
from sightline_runtime import subjects
from sightline_runtime.events import HEADER_MSG_ID, event_headers, new_meta
from sightline_runtime.processes import free_port
from sightline_runtime.streams import GLASSES_UP

CALENDARS = Path(__file__).parents[2] / "services" / "assistant" / "tests" / "data"
K = ReplyKind


def assistant_settings(url: str, data_dir: Path, **options) -> AssistantSettings:
    return AssistantSettings(
        nats_url=url,
        http_port=free_port(),
        http_host="127.0.0.1",
        assistant_data_dir=data_dir,
        nats_startup_timeout_s=10,
        log_level="WARNING",
        **options,
    )


def stamp(at: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(at)
    return ts


class AssistantBus:
    """What the assistant shows and sends, as the overlay, the glasses and the acting services see it."""

    def __init__(self, nc) -> None:
        self.nc = nc
        self.js = nc.jetstream()
        self.replies: list[tuple[float, AssistantReply]] = []
        self.commands: list[Command] = []
        self.device_commands: list[DeviceCommand] = []
        self.notes: list[MeetingNotes] = []

    async def start(self) -> AssistantBus:
        await self.nc.subscribe(subjects.domain_all("assistant", "reply"), cb=self._on(AssistantReply, self.replies, stamped=True))
        await self.nc.subscribe(subjects.domain_all("assistant", "command"), cb=self._on(Command, self.commands))
        await self.nc.subscribe(subjects.DOWN_COMMAND_ALL, cb=self._on(DeviceCommand, self.device_commands))
        await self.nc.subscribe(subjects.domain_all("assistant", "notes"), cb=self._on(MeetingNotes, self.notes))
        await self.nc.flush()
        return self

    @staticmethod
    def _on(kind, into: list, *, stamped: bool = False):
        async def on(msg) -> None:
            event = kind.FromString(msg.data)
            into.append((time.time(), event) if stamped else event)

        return on

    # --- what the wearer does ---
    async def say(
        self,
        device: str,
        text: str,
        *,
        language: str = "en",
        ended: datetime | None = None,
        started: datetime | None = None,
        event: Transcript | None = None,
        msg_id: bool = True,
    ) -> Transcript:
        """A final transcript as asr publishes it (stream ASR)."""
        ended = ended or datetime.now(UTC)
        if event is None:
            event = Transcript(
                meta=new_meta(device, "asr"),
                utterance_id=uuid.uuid4().hex[:12],
                revision=1,
                is_final=True,
                text=text,
                language=language,
                confidence=0.9,
                engine="test-final",
                stream_id="s1",
            )
            event.speech_started_at.CopyFrom(stamp(started or ended - timedelta(seconds=1)))
            event.speech_ended_at.CopyFrom(stamp(ended))
        headers = event_headers(event)
        if not msg_id:
            # A second copy the stream keeps (as after a publisher's retry past the dedup window).
            headers.pop(HEADER_MSG_ID)
        await self.js.publish(subjects.domain("asr", "final", device), event.SerializeToString(), headers=headers, stream="ASR")
        return event

    async def press(self, device: str, input_event: DeviceInput | None = None, **fields) -> DeviceInput:
        event = input_event or DeviceInput(meta=new_meta(device, "glasses"), **fields)
        await self.js.publish(subjects.up_input(device), event.SerializeToString(), headers=event_headers(event), stream=GLASSES_UP.name)
        return event

    async def action_button(self, device: str) -> DeviceInput:
        return await self.press(device, button=ButtonPress(button=Button.BUTTON_ACTION))

    async def answer(self, device: str, action_id: str, approved: bool) -> DeviceInput:
        return await self.press(device, confirmation=Confirmation(reference_id=action_id, approved=approved))

    # --- what follows ---
    async def until(self, found: Callable[[], object], timeout_s: float = 15.0, what: str = "") -> object:
        try:
            async with asyncio.timeout(timeout_s):
                while not (value := found()):
                    await asyncio.sleep(0.03)
        except TimeoutError:
            raise AssertionError(f"nothing within {timeout_s} s: {what or found}; cards: {self.cards_text()}") from None
        return value

    def cards_text(self) -> list[str]:
        return [f"{ReplyKind.Name(r.kind)}: {r.title} | {r.body} | {list(r.items)}" for _, r in self.replies]

    def command_of(self, final: Transcript) -> Command | None:
        return next((c for c in self.commands if c.meta.causation_id == final.meta.event_id), None)

    def reply_to(self, final: Transcript) -> AssistantReply | None:
        """The card that answers a final: caused by it, or by the command it became."""
        causes = {final.meta.event_id} | {c.meta.event_id for c in self.commands if c.meta.causation_id == final.meta.event_id}
        return next((r for _, r in self.replies if r.meta.causation_id in causes), None)

    async def reply(self, final: Transcript, timeout_s: float = 15.0) -> AssistantReply:
        return await self.until(lambda: self.reply_to(final), timeout_s, f"a card for {final.text!r}")

    def of(self, device: str, kind: int) -> list[AssistantReply]:
        return [r for _, r in self.replies if r.meta.device_id == device and r.kind == kind]

    async def quiet(self, seconds: float = 1.5) -> None:
        """Give the assistant time to do something it must not do."""
        await asyncio.sleep(seconds)

    async def transcript(self, device: str) -> GetTranscriptResponse:
        msg = await self.nc.request("assistant.rpc.get_transcript", GetTranscriptRequest(device_id=device).SerializeToString(), timeout=10)
        assert "Nats-Service-Error-Code" not in (msg.headers or {}), msg.headers
        return GetTranscriptResponse.FromString(msg.data)


@pytest.fixture
async def bus(nc, owner_streams) -> AssistantBus:
    return await AssistantBus(nc).start()


@pytest.fixture
async def assistant(nats_server, run_service, tmp_path, assistant_understander, owner_streams):
    return await run_service(
        create_service(assistant_settings(nats_server.url, tmp_path / "assistant"), understander=assistant_understander)
    )


# (phrase, language, intent, slots expected to be there (value or a predicate), card kind)
PHRASES = [
    ("take a photo", "en", IntentKind.INTENT_KIND_TAKE_PHOTO, {}, K.REPLY_KIND_ACKNOWLEDGED),
    ("拍张照片", "zh", IntentKind.INTENT_KIND_TAKE_PHOTO, {}, K.REPLY_KIND_ACKNOWLEDGED),
    ("translate what I see", "en", IntentKind.INTENT_KIND_TRANSLATE, {}, K.REPLY_KIND_ACKNOWLEDGED),
    ("翻译我看到的", "zh", IntentKind.INTENT_KIND_TRANSLATE, {}, K.REPLY_KIND_ACKNOWLEDGED),
    ("start conversation translation", "en", IntentKind.INTENT_KIND_START_CONVERSATION_TRANSLATION, {}, K.REPLY_KIND_ACKNOWLEDGED),
    ("开始对话翻译", "zh", IntentKind.INTENT_KIND_START_CONVERSATION_TRANSLATION, {}, K.REPLY_KIND_ACKNOWLEDGED),
    ("stop conversation translation", "en", IntentKind.INTENT_KIND_STOP_CONVERSATION_TRANSLATION, {}, K.REPLY_KIND_ACKNOWLEDGED),
    ("停止对话翻译", "zh", IntentKind.INTENT_KIND_STOP_CONVERSATION_TRANSLATION, {}, K.REPLY_KIND_ACKNOWLEDGED),
    ("what's the price of this", "en", IntentKind.INTENT_KIND_PRICE_CHECK, {}, K.REPLY_KIND_ACKNOWLEDGED),
    ("这个多少钱", "zh", IntentKind.INTENT_KIND_PRICE_CHECK, {}, K.REPLY_KIND_ACKNOWLEDGED),
    ("buy this", "en", IntentKind.INTENT_KIND_BUY, {}, K.REPLY_KIND_ACKNOWLEDGED),
    ("买这个", "zh", IntentKind.INTENT_KIND_BUY, {}, K.REPLY_KIND_ACKNOWLEDGED),
    (
        "navigate to the train station",
        "en",
        IntentKind.INTENT_KIND_NAVIGATE,
        {"destination": "the train station"},
        K.REPLY_KIND_ACKNOWLEDGED,
    ),
    ("导航到火车站", "zh", IntentKind.INTENT_KIND_NAVIGATE, {"destination": "火车站"}, K.REPLY_KIND_ACKNOWLEDGED),
    ("stop navigation", "en", IntentKind.INTENT_KIND_STOP_NAVIGATION, {}, K.REPLY_KIND_ACKNOWLEDGED),
    ("停止导航", "zh", IntentKind.INTENT_KIND_STOP_NAVIGATION, {}, K.REPLY_KIND_ACKNOWLEDGED),
    (
        "remind me in 10 minutes to call mom",
        "en",
        IntentKind.INTENT_KIND_SET_REMINDER,
        {"text": "call mom", "due_at": 600},
        K.REPLY_KIND_ACKNOWLEDGED,
    ),
    ("十分钟后提醒我喝水", "zh", IntentKind.INTENT_KIND_SET_REMINDER, {"text": "喝水", "due_at": 600}, K.REPLY_KIND_ACKNOWLEDGED),
    ("what's on my schedule", "en", IntentKind.INTENT_KIND_SCHEDULE, {}, K.REPLY_KIND_SCHEDULE),
    ("今天有什么安排", "zh", IntentKind.INTENT_KIND_SCHEDULE, {}, K.REPLY_KIND_SCHEDULE),
    ("what's next", "en", IntentKind.INTENT_KIND_NEXT_EVENT, {}, K.REPLY_KIND_SCHEDULE),
    ("下一个会议是什么", "zh", IntentKind.INTENT_KIND_NEXT_EVENT, {}, K.REPLY_KIND_SCHEDULE),
    ("read my notifications", "en", IntentKind.INTENT_KIND_READ_NOTIFICATIONS, {}, K.REPLY_KIND_NOTIFICATION),
    ("读我的通知", "zh", IntentKind.INTENT_KIND_READ_NOTIFICATIONS, {}, K.REPLY_KIND_NOTIFICATION),
    ("take a note buy milk", "en", IntentKind.INTENT_KIND_TAKE_NOTE, {"text": "buy milk"}, K.REPLY_KIND_ACKNOWLEDGED),
    ("记下来买牛奶", "zh", IntentKind.INTENT_KIND_TAKE_NOTE, {"text": "买牛奶"}, K.REPLY_KIND_ACKNOWLEDGED),
    ("start meeting notes", "en", IntentKind.INTENT_KIND_START_MEETING_NOTES, {}, K.REPLY_KIND_ACKNOWLEDGED),
    ("stop meeting notes", "en", IntentKind.INTENT_KIND_STOP_MEETING_NOTES, {}, K.REPLY_KIND_MEETING_NOTES),
    ("开始会议记录", "zh", IntentKind.INTENT_KIND_START_MEETING_NOTES, {}, K.REPLY_KIND_ACKNOWLEDGED),
    ("结束会议记录", "zh", IntentKind.INTENT_KIND_STOP_MEETING_NOTES, {}, K.REPLY_KIND_MEETING_NOTES),
    ("what is this", "en", IntentKind.INTENT_KIND_WHAT_IS_THIS, {}, K.REPLY_KIND_ACKNOWLEDGED),
    ("这是什么", "zh", IntentKind.INTENT_KIND_WHAT_IS_THIS, {}, K.REPLY_KIND_ACKNOWLEDGED),
    # No LLM configured: an open question is understood and the card says it cannot answer here.
    ("what is the capital of France", "en", IntentKind.INTENT_KIND_ASK, {"query": "what is the capital of France"}, K.REPLY_KIND_ERROR),
]

WAKE = {"en": "Hey Sightline, ", "zh": "你好 Sightline，"}


async def test_core_phrasings_in_english_and_chinese_become_commands_with_slots_and_cards(assistant, bus, registry):
    await registry.add("cmd-1")
    for phrase, language, intent, slots, kind in PHRASES:
        said_at = datetime.now(UTC)
        final = await bus.say("cmd-1", WAKE[language] + phrase, language=language)
        card = await bus.reply(final)
        command = bus.command_of(final)
        assert command is not None, f"no Command for {phrase!r}"
        assert command.intent == intent, (phrase, IntentKind.Name(command.intent))
        assert command.language == language
        assert command.utterance_id == final.utterance_id
        # Open questions have no grammar: they are the nearest example's (ASK).
        assert command.understood_by == ("examples" if intent == IntentKind.INTENT_KIND_ASK else "grammar"), phrase
        assert command.transcript == phrase
        for key, wanted in slots.items():
            if key == "due_at":
                due = datetime.fromisoformat(command.slots["due_at"])
                assert abs((due - said_at).total_seconds() - wanted) < 5, (phrase, command.slots["due_at"])
            else:
                assert command.slots[key] == wanted, (phrase, dict(command.slots))
        assert card.kind == kind, (phrase, bus.cards_text()[-1])
        assert card.meta.device_id == "cmd-1"
        assert card.language == language
        assert card.title
    # Only the open question failed, and its card shows what was asked.
    errors = bus.of("cmd-1", K.REPLY_KIND_ERROR)
    assert [e.body for e in errors] == ["what is the capital of France"]


async def test_take_photo_and_conversation_translation_are_device_commands_for_the_glasses(assistant, bus, registry):
    await registry.add("cmd-2")
    photo = await bus.say("cmd-2", "hey sightline take a photo")
    await bus.reply(photo)
    on = await bus.say("cmd-2", "Hey Sightline, translate between English and Chinese")
    await bus.reply(on)
    off = await bus.say("cmd-2", "你好 Sightline，停止对话翻译", language="zh")
    await bus.reply(off)
    await bus.until(lambda: len(bus.device_commands) >= 3, what="three DeviceCommands")
    take, start, stop = bus.device_commands
    assert take.WhichOneof("command") == "take_photo"
    assert take.take_photo.purpose == "photo"
    assert take.meta.causation_id == bus.command_of(photo).meta.event_id
    assert start.conversation_translation.enabled
    assert {start.conversation_translation.source_language, start.conversation_translation.target_language} == {"en", "zh"}
    assert not stop.conversation_translation.enabled
    assert all(c.meta.device_id == "cmd-2" for c in bus.device_commands)


async def test_a_caption_without_the_wake_phrase_is_only_a_transcript_line(assistant, bus, registry):
    await registry.add("cmd-3")
    final = await bus.say("cmd-3", "take a photo of the sunset later, she said")
    await bus.quiet()
    assert not bus.commands
    assert not bus.replies
    assert not bus.device_commands
    lines = (await bus.transcript("cmd-3")).lines
    assert [(line.utterance_id, line.text) for line in lines] == [(final.utterance_id, final.text)]


async def test_the_action_button_opens_command_mode_for_the_next_final(assistant, bus, registry):
    await registry.add("cmd-4")
    # The first open of the day is the briefing; it opens no command mode, so take it first.
    await bus.action_button("cmd-4")
    await bus.until(lambda: bus.of("cmd-4", K.REPLY_KIND_BRIEFING), what="the briefing")
    await bus.action_button("cmd-4")
    listening = await bus.until(lambda: bus.of("cmd-4", K.REPLY_KIND_ACKNOWLEDGED), what="Listening…")
    assert listening[0].title == "Listening…"
    final = await bus.say("cmd-4", "navigate to the museum")
    card = await bus.reply(final)
    assert bus.command_of(final).slots["destination"] == "the museum"
    assert card.kind == K.REPLY_KIND_ACKNOWLEDGED
    # Command mode is used up: the next final without the wake phrase is a caption again.
    again = await bus.say("cmd-4", "navigate to the zoo")
    await bus.quiet()
    assert bus.command_of(again) is None
    assert bus.reply_to(again) is None


async def test_the_wake_phrase_alone_briefs_first_then_listens(assistant, bus, registry, nc):
    await registry.add("cmd-5")
    # An .ics of the tests', its "Dentist" moved to later today so the briefing has it whatever the date.
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=2)
    ics = (CALENDARS / "google_work.ics").read_text()
    ics = ics.replace("DTSTART:20261204T020000Z", f"DTSTART:{soon:%Y%m%dT%H%M%SZ}")
    ics = ics.replace("DTEND:20261204T030000Z", f"DTEND:{soon + timedelta(minutes=30):%Y%m%dT%H%M%SZ}")
    msg = await nc.request(
        "assistant.rpc.import_calendar", ImportCalendarRequest(device_id="cmd-5", ics=ics.encode()).SerializeToString(), timeout=15
    )
    assert "Nats-Service-Error-Code" not in (msg.headers or {}), msg.headers
    assert ImportCalendarResponse.FromString(msg.data).imported >= 1
    first = await bus.say("cmd-5", "Hey Sightline")
    briefing = await bus.until(lambda: bus.of("cmd-5", K.REPLY_KIND_BRIEFING), what="the briefing")
    [card] = briefing
    assert any(f"{soon:%H:%M} Dentist" in item for item in card.items), list(card.items)
    second = await bus.say("cmd-5", "Hey Sightline.")
    await bus.until(lambda: bus.of("cmd-5", K.REPLY_KIND_ACKNOWLEDGED), what="Listening…")
    assert [c.title for c in bus.of("cmd-5", K.REPLY_KIND_ACKNOWLEDGED)] == ["Listening…"]
    assert len(bus.of("cmd-5", K.REPLY_KIND_BRIEFING)) == 1
    # No command for the wake phrase alone; the one after it needs no wake phrase.
    assert bus.command_of(first) is None
    assert bus.command_of(second) is None
    note = await bus.say("cmd-5", "take a note the dentist is on Nanjing Road")
    await bus.reply(note)
    assert bus.command_of(note).intent == IntentKind.INTENT_KIND_TAKE_NOTE


async def test_a_weak_match_is_offered_and_yes_executes_it_and_no_does_not(assistant, bus, registry):
    await registry.add("cmd-6")
    await bus.say("cmd-6", "hey sightline capture the moment")
    # The card's causation is the (unpublished) Command, not the final: found by kind.
    [offer] = await bus.until(lambda: bus.of("cmd-6", K.REPLY_KIND_SUGGESTION), what="the suggestion")
    assert offer.kind == K.REPLY_KIND_SUGGESTION
    assert "take a photo" in offer.title
    assert not bus.device_commands, "a suggestion does nothing until the wearer says yes"
    yes, _no = offer.actions
    await bus.answer("cmd-6", yes.action_id, approved=True)
    await bus.until(lambda: bus.device_commands, what="the photo taken after Yes")
    [taken] = bus.device_commands
    assert taken.take_photo.purpose == "photo"
    obeyed = [c for c in bus.commands if c.understood_by == "suggestion"]
    assert [c.intent for c in obeyed] == [IntentKind.INTENT_KIND_TAKE_PHOTO]

    await bus.say("cmd-6", "hey sightline capture the moment")
    offer = (await bus.until(lambda: len(bus.of("cmd-6", K.REPLY_KIND_SUGGESTION)) == 2 and bus.of("cmd-6", K.REPLY_KIND_SUGGESTION)))[1]
    await bus.answer("cmd-6", offer.actions[1].action_id, approved=False)
    await bus.quiet()
    assert len(bus.device_commands) == 1
    assert len([c for c in bus.commands if c.understood_by == "suggestion"]) == 1


async def test_a_stale_final_is_kept_in_the_transcript_but_not_obeyed(assistant, bus, registry):
    await registry.add("cmd-7")
    stale = await bus.say("cmd-7", "hey sightline buy this", ended=datetime.now(UTC) - timedelta(minutes=2))
    await bus.quiet()
    assert bus.command_of(stale) is None
    assert bus.reply_to(stale) is None
    assert [line.text for line in (await bus.transcript("cmd-7")).lines] == ["hey sightline buy this"]
    fresh = await bus.say("cmd-7", "hey sightline buy this")
    await bus.reply(fresh)
    assert bus.command_of(fresh).intent == IntentKind.INTENT_KIND_BUY


async def test_the_same_final_delivered_twice_is_one_command(assistant, bus, registry, nc):
    await registry.add("cmd-8")
    final = await bus.say("cmd-8", "hey sightline take a note pay the rent")
    await bus.reply(final)
    # The very same event again, past the stream's dedup (no Nats-Msg-Id): the assistant's inbox drops it.
    await bus.say("cmd-8", "", event=final, msg_id=False)
    info = await nc.jetstream().stream_info("ASR", subjects_filter="asr.final.cmd-8")
    assert info.state.subjects == {"asr.final.cmd-8": 2}, "both copies are in the stream"
    await bus.quiet(2.0)
    assert len([c for c in bus.commands if c.meta.causation_id == final.meta.event_id]) == 1
    assert len(bus.of("cmd-8", K.REPLY_KIND_ACKNOWLEDGED)) == 1
    assert len((await bus.transcript("cmd-8")).lines) == 1


async def _metric(port: int, name: str, label: str) -> float:
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + "{") and label in line)


async def test_two_replicas_sharing_the_durables_show_the_briefing_once(
    nats_server, run_service, tmp_path, assistant_understander, bus, registry
):
    await registry.add("cmd-9")
    replicas = []
    for _ in range(2):
        settings = assistant_settings(nats_server.url, tmp_path / "shared")
        replicas.append((settings.http_port, await run_service(create_service(settings, understander=assistant_understander))))
    # Wake phrases and action buttons in a burst: whichever replica takes each, one briefing.
    for _n in range(6):
        await bus.say("cmd-9", "ok sightline")
        await bus.action_button("cmd-9")
    await bus.until(lambda: len(bus.of("cmd-9", K.REPLY_KIND_ACKNOWLEDGED)) + len(bus.of("cmd-9", K.REPLY_KIND_BRIEFING)) >= 12, 20)
    await bus.quiet()
    assert len(bus.of("cmd-9", K.REPLY_KIND_BRIEFING)) == 1
    assert len(bus.of("cmd-9", K.REPLY_KIND_ACKNOWLEDGED)) == 11
    woken = [await _metric(port, "sightline_assistant_finals_total", 'outcome="woken"') for port, _ in replicas]
    assert sum(woken) == 6, woken


async def test_a_wake_phrase_heard_by_sound_obeys_only_a_clear_command(assistant, bus, registry):
    """What the recogniser writes for "Hey Sightline" ("Hayside Line") wakes for a command the
    assistant is sure of; after such a near miss, a question or nonsense stays a caption, no card."""
    await registry.add("cmd-10")
    photo = await bus.say("cmd-10", "Hayside Line, take a photo.")
    await bus.reply(photo)
    command = bus.command_of(photo)
    assert command.intent == IntentKind.INTENT_KIND_TAKE_PHOTO
    assert command.transcript == "take a photo."
    captions = [
        await bus.say("cmd-10", "hey sightlines are nice"),
        await bus.say("cmd-10", "Hey, sideline, what is the capital of France?"),
    ]
    await bus.quiet()
    for final in captions:
        assert bus.command_of(final) is None, final.text
        assert bus.reply_to(final) is None, final.text
    assert len((await bus.transcript("cmd-10")).lines) == 3

"""The assistant's handlers: each bus event to the part that deals with it.

A final transcript is always written to the transcript. It is a command
when it starts with a wake phrase or when the action button opened command
mode just before; then it is understood (grammar, else the nearest example)
and obeyed, offered as "Did you mean …?" when the match is weak, or
answered "didn't catch that". A final too old to obey (replayed after an
outage) is only kept.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from google.protobuf.timestamp_pb2 import Timestamp
from sightline.v1.asr_pb2 import Transcript
from sightline.v1.assistant_pb2 import Command, Reminder, ReplyKind
from sightline.v1.device_pb2 import DeviceRecord
from sightline.v1.input_pb2 import Button, DeviceInput, GestureKind, IntentKind
from sightline.v1.translation_pb2 import Translation
from sightline.v1.vision_pb2 import VisionResult
from sightline_runtime.consumer import EventContext
from sightline_runtime.events import new_meta
from sightline_runtime.logs import RateLimitedLog

from sightline_assistant.bus import SERVICE
from sightline_assistant.commands import CommandDesk, Said
from sightline_assistant.domain import look
from sightline_assistant.domain.phrases import say
from sightline_assistant.domain.reminders import ReminderRefused, next_due, time_zone
from sightline_assistant.domain.understanding import Status
from sightline_assistant.metrics import AssistantMetrics
from sightline_assistant.replies import Replier
from sightline_assistant.settings import AssistantSettings
from sightline_assistant.state import DeviceState
from sightline_assistant.timers import ReminderTimers, due_at, timestamp

log = logging.getLogger(__name__)

SUGGESTION_PREFIX = "suggest-"


def _storable(event: Any, *fields: str) -> bool:
    """Replace NUL characters in the event's text fields (PostgreSQL text cannot hold them: the
    line would fail to store on every delivery and be lost). True when there were any."""
    changed = False
    for name in fields:
        value = getattr(event, name)
        if "\x00" in value:
            setattr(event, name, value.replace("\x00", "\ufffd"))
            changed = True
    return changed


def _confident(understanding: Any) -> bool:
    """A command to obey as it is (not a question: any sentence is one), or a guess to ask about
    (a card that does nothing unless the wearer says yes)."""
    if understanding.status is Status.SUGGESTION:
        return True
    return understanding.status is Status.COMMAND and understanding.intent != IntentKind.INTENT_KIND_ASK


def _when(ts: Timestamp) -> datetime | None:
    return ts.ToDatetime(tzinfo=UTC) if ts.seconds else None


class AssistantHandlers:
    def __init__(
        self,
        *,
        settings: AssistantSettings,
        understander: Any,
        wake: Any,
        desk: CommandDesk,
        replier: Replier,
        timers: ReminderTimers,
        state: DeviceState,
        store: Any,
        notifications: Any,
        rpc: Any,
        metrics: AssistantMetrics,
    ) -> None:
        self.settings = settings
        self.understander = understander
        self.wake = wake
        self.desk = desk
        self.replier = replier
        self.timers = timers
        self.state = state
        self.store = store
        self.notifications = notifications
        self.rpc = rpc
        self.metrics = metrics
        self.limited_log = RateLimitedLog(log)

    # --- speech ---
    async def on_final(self, transcript: Transcript, ctx: EventContext) -> None:
        device = ctx.device or DeviceRecord(device_id=ctx.device_id)
        if _storable(transcript, "text"):
            self._nul_replaced(ctx, "final")
        if await self.store.add_final(ctx.device_id, transcript):
            self.metrics.transcript_lines.labels("final").inc()
        text = transcript.text.strip()
        if not text:
            # Nothing was said (the store keeps no line for it); command mode stays open for the next final.
            self.metrics.finals.labels("empty").inc()
            return
        wake = self.wake.heard(text)
        command_text = None if wake is None else wake.command
        if command_text is None and await self.state.take_command_mode(ctx.device_id):
            command_text = text
        if command_text is None:
            self.metrics.finals.labels("caption").inc()
            return
        spoken = _when(transcript.speech_ended_at) or datetime.now(UTC)
        age = (datetime.now(UTC) - spoken).total_seconds()
        if age > self.settings.command_max_age_s:
            self.metrics.finals.labels("stale").inc()
            self.limited_log.log(
                logging.INFO,
                ("stale", ctx.device_id),
                "command too old to obey, kept in the transcript",
                device_id=ctx.device_id,
                age_s=round(age),
            )
            return
        if not command_text.strip():
            # The wake phrase alone: the day's briefing the first time, else "listening".
            self.metrics.finals.labels("woken").inc()
            await self._woken(device, transcript)
            return
        limit = self.understander.settings.max_chars
        if len(command_text) > limit:
            # A command is a sentence: a long dictation after the wake phrase is kept, not cut short and obeyed.
            await self._too_long(device, command_text, transcript, limit)
            return
        await self._understood(device, command_text, transcript, spoken, by_sound=wake is not None and wake.by_sound)

    async def _too_long(self, device: DeviceRecord, text: str, transcript: Transcript, limit: int) -> None:
        language = transcript.language or "en"
        self.metrics.finals.labels("too_long").inc()
        self.limited_log.log(
            logging.INFO,
            ("too_long", device.device_id),
            "command too long to understand, kept in the transcript",
            device_id=device.device_id,
            utterance_id=transcript.utterance_id,
            chars=len(text),
            max_chars=limit,
        )
        await self.replier.send(
            device.device_id,
            ReplyKind.REPLY_KIND_ERROR,
            say("too_long", language),
            say("too_long_body", language, count=len(text), limit=limit),
            language=language,
            causation_id=transcript.meta.event_id,
            speech_ended_at=transcript.speech_ended_at,
        )

    async def _understood(
        self, device: DeviceRecord, text: str, transcript: Transcript, spoken: datetime, *, by_sound: bool = False
    ) -> None:
        language = transcript.language or "en"
        started = time.perf_counter()
        understanding = self.understander.understand(text, language=language, now=datetime.now(UTC), time_zone=self._zone_name(device))
        self.metrics.understanding_seconds.labels(understanding.understood_by or "none").observe(time.perf_counter() - started)
        if by_sound and not _confident(understanding):
            # "Hey Stalin, what's up" sounds like the wake phrase: only a command understood with
            # confidence (or a "Did you mean") makes it one; anything else stays a caption, no card.
            self.metrics.finals.labels("caption").inc()
            return
        command = Command(
            meta=new_meta(device.device_id, SERVICE, causation_id=transcript.meta.event_id),
            intent=understanding.intent or IntentKind.INTENT_KIND_UNSPECIFIED,
            slots={k: str(v) for k, v in understanding.slots.items()},
            transcript=text,
            language=language,
            confidence=understanding.confidence,
            understood_by=understanding.understood_by,
            utterance_id=transcript.utterance_id,
        )
        if transcript.speech_ended_at.seconds:
            command.speech_ended_at.CopyFrom(transcript.speech_ended_at)
        said = Said(device, command, spoken, speech_ended_at=transcript.speech_ended_at)
        self.metrics.finals.labels(understanding.status.value).inc()
        if understanding.status is Status.COMMAND:
            await self.desk.obey(said)
        elif understanding.status is Status.SUGGESTION:
            await self._suggest(said, understanding.suggestion)
        else:
            # Incomplete ("where to?"), invalid ("that time has passed") or not understood: said on a card.
            title = say("not_understood", language) if understanding.status is Status.NOT_UNDERSTOOD else understanding.reason
            body = text
            if understanding.status is Status.INVALID:
                # The reason is the card's body, under what could not be done.
                refused_reminder = understanding.intent == IntentKind.INTENT_KIND_SET_REMINDER
                if refused_reminder:
                    self.metrics.reminders.labels("refused").inc()
                title = say("reminder_refused" if refused_reminder else "not_understood", language)
                body = understanding.reason or text
            await self.replier.send(
                device.device_id,
                ReplyKind.REPLY_KIND_ERROR,
                title or say("not_understood", language),
                body,
                language=language,
                causation_id=transcript.meta.event_id,
                speech_ended_at=transcript.speech_ended_at,
            )
            if understanding.status is Status.INCOMPLETE:
                # The wearer answers the question without the wake phrase.
                await self.state.open_command_mode(device.device_id, self.settings.command_mode_s)

    async def _suggest(self, said: Said, suggestion: str) -> None:
        suggestion_id = SUGGESTION_PREFIX + uuid.uuid4().hex[:12]
        self.metrics.suggestions.labels("offered").inc()
        await self.state.offer_suggestion(
            said.device_id, suggestion_id, {"command": said.command.SerializeToString().hex()}, self.settings.suggestion_ttl_s
        )
        await self.replier.send(
            said.device_id,
            ReplyKind.REPLY_KIND_SUGGESTION,
            # "Did you mean “take a photo”?", over what was heard.
            suggestion or say("did_you_mean", said.language),
            said.command.transcript,
            language=said.language,
            actions=((suggestion_id, say("yes", said.language)), (suggestion_id + ".no", say("no", said.language))),
            reference_id=suggestion_id,
            causation_id=said.command.meta.event_id,
            speech_ended_at=said.speech_ended_at,
            ttl_ms=int(self.settings.suggestion_ttl_s * 1000),
        )

    async def _woken(self, device: DeviceRecord, transcript: Transcript | None) -> None:
        language = (transcript.language if transcript else "") or "en"
        zone = ZoneInfo(self._zone_name(device))
        today = datetime.now(UTC).astimezone(zone).date().isoformat()
        if await self.state.first_briefing_of(device.device_id, today):
            await self._briefing(device, language)
            return
        await self.state.open_command_mode(device.device_id, self.settings.command_mode_s)
        await self.replier.send(device.device_id, ReplyKind.REPLY_KIND_ACKNOWLEDGED, say("listening", language), language=language)

    async def _briefing(self, device: DeviceRecord, language: str) -> None:
        zone = ZoneInfo(self._zone_name(device))
        now = datetime.now(UTC)
        end_of_day = (now.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)).astimezone(UTC)
        events = await self.store.events_between(device.device_id, now, end_of_day, limit=self.settings.briefing_events)
        reminders = [r for r in await self.timers.pending(device.device_id) if due_at(r) <= end_of_day]
        unread = self.notifications.unread_count(device.device_id)
        items: list[str] = []
        if events:
            items.append(
                say("briefing_events", language, items="; ".join(f"{e.starts_at.astimezone(zone):%H:%M} {e.summary}" for e in events))
            )
        if reminders:
            items.append(say("briefing_reminders", language, count=len(reminders)))
        if unread:
            items.append(say("briefing_unread", language, count=unread))
        body = "" if items else say("briefing_nothing", language)
        await self.replier.send(
            device.device_id, ReplyKind.REPLY_KIND_BRIEFING, say("briefing", language), body, items=items, language=language
        )

    # --- the transcript's translations ---
    async def on_translation(self, translation: Translation, ctx: EventContext) -> None:
        if _storable(translation, "text", "source_text"):
            self._nul_replaced(ctx, "translation")
        await self.store.add_translation(ctx.device_id, translation)
        self.metrics.transcript_lines.labels("translation").inc()

    # --- inputs from the glasses ---
    async def on_input(self, event: DeviceInput, ctx: EventContext) -> None:
        device = ctx.device or DeviceRecord(device_id=ctx.device_id)
        kind = event.WhichOneof("input")
        opens = (kind == "button" and event.button.button == Button.BUTTON_ACTION and not event.button.long_press) or (
            kind == "gesture" and event.gesture.kind == GestureKind.GESTURE_KIND_DOUBLE_TAP
        )
        if opens:
            await self._woken(device, None)
        elif kind == "voice_intent" and event.voice_intent.kind != IntentKind.INTENT_KIND_UNSPECIFIED:
            intent = event.voice_intent
            command = Command(
                meta=new_meta(ctx.device_id, SERVICE, causation_id=ctx.event_id),
                intent=intent.kind,
                slots=dict(intent.slots),
                transcript=intent.transcript,
                language="en",
                confidence=1.0,
                understood_by="glasses",
                reference_id=intent.reference_id,
            )
            await self.desk.obey(Said(device, command, datetime.now(UTC)))
        elif kind == "confirmation" and event.confirmation.reference_id.startswith(SUGGESTION_PREFIX):
            await self._answered_suggestion(device, event.confirmation.reference_id, event.confirmation.approved, ctx.event_id)

    async def _answered_suggestion(self, device: DeviceRecord, action_id: str, approved: bool, event_id: str) -> None:
        declined = action_id.endswith(".no") or not approved
        suggestion_id = action_id.removesuffix(".no")
        offered = await self.state.take_suggestion(device.device_id, suggestion_id)
        if declined:
            self.metrics.suggestions.labels("declined").inc()
            return
        if offered is None:
            # Expired, already answered, never offered, or another device's: a Yes that does nothing says so.
            self.metrics.suggestions.labels("expired").inc()
            self.limited_log.log(
                logging.INFO,
                ("suggestion", device.device_id),
                "a Yes to no pending suggestion of the device",
                device_id=device.device_id,
                reference_id=action_id[:64],
            )
            await self.replier.send(
                device.device_id,
                ReplyKind.REPLY_KIND_ERROR,
                say("suggestion_expired"),
                say("suggestion_expired_body"),
                reference_id=action_id[:64],
                causation_id=event_id,
            )
            return
        command = Command()
        try:
            command.ParseFromString(bytes.fromhex(offered["command"]))
        except (KeyError, ValueError):
            log.warning("unreadable suggestion in the state", extra={"device_id": device.device_id})
            return
        self.metrics.suggestions.labels("accepted").inc()
        command.understood_by = "suggestion"
        command.meta.CopyFrom(new_meta(device.device_id, SERVICE, causation_id=command.meta.event_id))
        await self.desk.obey(Said(device, command, datetime.now(UTC)))

    # --- reminders ---
    async def on_reminder_due(self, reminder: Reminder, ctx: EventContext) -> None:
        now = datetime.now(UTC)
        lateness = (now - due_at(reminder)).total_seconds()
        self.metrics.reminder_lateness_seconds.observe(max(0.0, lateness))
        self.metrics.reminders.labels("fired").inc()
        await self.replier.send(
            ctx.device_id,
            ReplyKind.REPLY_KIND_REMINDER,
            say("reminder", reminder.language),
            reminder.text,
            language=reminder.language or "en",
            reference_id=reminder.reminder_id,
            urgent=True,
            causation_id=ctx.event_id,
        )
        try:
            zone = time_zone(reminder.time_zone)
        except ReminderRefused:
            zone = time_zone("")
        following = next_due(due_at(reminder), reminder.recurrence, zone, after=max(now, due_at(reminder)))
        if following is not None:
            upcoming = Reminder()
            upcoming.CopyFrom(reminder)
            upcoming.due_at.CopyFrom(timestamp(following))
            upcoming.occurrence = reminder.occurrence + 1
            upcoming.meta.causation_id = ctx.event_id
            await self.timers.schedule(ctx.device_id, upcoming)
            self.metrics.reminders.labels("rescheduled").inc()

    # --- what is this ---
    async def on_vision_result(self, result: VisionResult, ctx: EventContext) -> None:
        photo = look.gist(result)
        await self.state.remember_photo(ctx.device_id, photo)
        question = await self.state.take_photo_question(ctx.device_id)
        if question is not None:
            await self.desk.answer_photo(
                ctx.device_id,
                photo,
                language=question.get("language", "en"),
                question=question.get("question", ""),
                causation_id=question.get("command", ""),
            )

    # --- requests ---
    async def get_transcript(self, body: bytes) -> tuple[Any, dict[str, str]]:
        return await self.rpc.get_transcript(body)

    async def import_calendar(self, body: bytes) -> tuple[Any, dict[str, str]]:
        return await self.rpc.import_calendar(body)

    def _nul_replaced(self, ctx: EventContext, kind: str) -> None:
        self.limited_log.log(
            logging.WARNING,
            ("nul", ctx.device_id),
            f"NUL characters in a {kind}, kept as U+FFFD",
            device_id=ctx.device_id,
            event_id=ctx.event_id,
            subject=ctx.subject,
        )

    def _zone_name(self, device: DeviceRecord) -> str:
        """The device's zone, or UTC (with a log line) when its record names an unknown one."""
        try:
            return time_zone(device.time_zone).key
        except ReminderRefused:
            self.limited_log.log(
                logging.WARNING, ("zone", device.device_id), "device has an unknown time zone, using UTC", device_id=device.device_id
            )
            return "UTC"

"""From a command to its effect.

Every understood command is published on assistant.command.<device> (the
record, and the input of the services that act on it: commerce, payments,
navigation). The assistant then does its own part: asks the glasses for a
photo, sets a reminder, reads the schedule, keeps a note, runs meeting
notes, answers "what is this" and open questions, and shows a card.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from google.protobuf.timestamp_pb2 import Timestamp
from sightline.v1.assistant_pb2 import Command, MeetingNotes, Recurrence, Reminder, ReplyKind
from sightline.v1.device_pb2 import ConversationTranslation, DeviceCommand, DeviceRecord, TakePhoto
from sightline.v1.input_pb2 import IntentKind
from sightline_runtime import subjects
from sightline_runtime.events import new_meta
from sightline_runtime.publisher import EventPublisher

from sightline_assistant.bus import ASSISTANT, SERVICE
from sightline_assistant.domain import calendar, look
from sightline_assistant.domain.phrases import say
from sightline_assistant.domain.reminders import ReminderLimits, ReminderRefused, check_new, local_label, recurrence_from_slot, time_zone
from sightline_assistant.engines.llm import Answerer, Summarizer
from sightline_assistant.metrics import AssistantMetrics
from sightline_assistant.replies import Replier
from sightline_assistant.settings import AssistantSettings
from sightline_assistant.state import DeviceState
from sightline_assistant.timers import ReminderTimers, timestamp

log = logging.getLogger(__name__)


@dataclass
class Said:
    """One command as the wearer gave it."""

    device: DeviceRecord
    command: Command
    # When it was said (the final's speech end, else now).
    at: datetime
    speech_ended_at: Timestamp | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def device_id(self) -> str:
        return self.device.device_id

    @property
    def language(self) -> str:
        return self.command.language or "en"


class CommandDesk:
    def __init__(
        self,
        *,
        publisher: EventPublisher,
        replier: Replier,
        timers: ReminderTimers,
        state: DeviceState,
        store: Any,
        notifications: Any,
        summarizer: Summarizer,
        answerer: Answerer,
        settings: AssistantSettings,
        metrics: AssistantMetrics,
    ) -> None:
        self.publisher = publisher
        self.replier = replier
        self.timers = timers
        self.state = state
        self.store = store
        self.notifications = notifications
        self.summarizer = summarizer
        self.answerer = answerer
        self.settings = settings
        self.metrics = metrics
        self.reminder_limits = ReminderLimits(
            max_text_chars=settings.reminder_max_text_chars, max_ahead=timedelta(days=settings.reminder_max_days_ahead)
        )
        # Per device, the "what is this" asked here and waiting for its photo: the task that says so if none comes.
        self._photo_watches: dict[str, asyncio.Task[None]] = {}

    async def close(self) -> None:
        """Stop waiting for photos (a shutdown hook)."""
        for device_id in list(self._photo_watches):
            await self._stop_watch(device_id)

    async def _stop_watch(self, device_id: str) -> None:
        task = self._photo_watches.pop(device_id, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def obey(self, said: Said) -> None:
        command = said.command
        await self.publisher.publish(subjects.domain(SERVICE, "command", said.device_id), command, stream=ASSISTANT)
        self.metrics.commands.labels(IntentKind.Name(command.intent), command.understood_by or "unknown").inc()
        act = self._acts.get(command.intent)
        if act is None:
            await self._reply(said, ReplyKind.REPLY_KIND_ERROR, say("not_understood", said.language))
            return
        try:
            await act(self, said)
        except ReminderRefused as refused:
            # A device record with an unknown time zone: said on the card, not retried.
            await self._reply(said, ReplyKind.REPLY_KIND_ERROR, say("not_understood", said.language), str(refused))

    async def _reply(self, said: Said, kind: ReplyKind.ValueType, title: str, body: str = "", **options: Any) -> None:
        await self.replier.send(
            said.device_id,
            kind,
            title,
            body,
            language=said.language,
            causation_id=said.command.meta.event_id,
            speech_ended_at=said.speech_ended_at,
            **options,
        )

    async def _device_command(self, said: Said, command: DeviceCommand) -> None:
        command.meta.CopyFrom(new_meta(said.device_id, SERVICE, causation_id=said.command.meta.event_id))
        await self.publisher.publish(subjects.down_command(said.device_id), command)

    # --- the glasses ---
    async def take_photo(self, said: Said) -> None:
        await self._device_command(said, DeviceCommand(take_photo=TakePhoto(purpose="photo")))
        await self._reply(said, ReplyKind.REPLY_KIND_ACKNOWLEDGED, say("photo", said.language))

    async def translate_view(self, said: Said) -> None:
        # The photo goes the sign way: vision reads it, translation and overlay label it.
        await self._device_command(said, DeviceCommand(take_photo=TakePhoto(purpose="translate")))
        await self._reply(said, ReplyKind.REPLY_KIND_ACKNOWLEDGED, say("translate_view", said.language))

    async def conversation_on(self, said: Said) -> None:
        slots = said.command.slots
        source = slots.get("source_language", "")
        target = (
            slots.get("target_language", "") or said.device.default_target_language or ("en" if said.language.startswith("zh") else "zh")
        )
        await self._device_command(
            said,
            DeviceCommand(conversation_translation=ConversationTranslation(enabled=True, source_language=source, target_language=target)),
        )
        await self._reply(
            said, ReplyKind.REPLY_KIND_ACKNOWLEDGED, say("conversation_on", said.language, source=source or "auto", target=target)
        )

    async def conversation_off(self, said: Said) -> None:
        await self._device_command(said, DeviceCommand(conversation_translation=ConversationTranslation(enabled=False)))
        await self._reply(said, ReplyKind.REPLY_KIND_ACKNOWLEDGED, say("conversation_off", said.language))

    # --- handed to commerce, payments and navigation (their cards follow) ---
    async def handed_off(self, said: Said) -> None:
        key = {
            IntentKind.INTENT_KIND_PRICE_CHECK: "price_check",
            IntentKind.INTENT_KIND_BUY: "buy",
            IntentKind.INTENT_KIND_ADD_TO_CART: "add_to_cart",
            IntentKind.INTENT_KIND_CONFIRM: "confirm",
            IntentKind.INTENT_KIND_CANCEL: "cancel",
        }[said.command.intent]
        await self._reply(said, ReplyKind.REPLY_KIND_ACKNOWLEDGED, say(key, said.language))

    async def navigate(self, said: Said) -> None:
        destination = said.command.slots.get("destination", "").strip()
        if not destination:
            await self._reply(said, ReplyKind.REPLY_KIND_ERROR, say("navigate_where", said.language))
            return
        await self.state.set_navigating(said.device_id, destination)
        await self._reply(said, ReplyKind.REPLY_KIND_ACKNOWLEDGED, say("navigate", said.language, destination=destination))

    async def stop_navigation(self, said: Said) -> None:
        await self.state.set_navigating(said.device_id, None)
        await self._reply(said, ReplyKind.REPLY_KIND_ACKNOWLEDGED, say("stop_navigation", said.language))

    # --- reminders ---
    async def set_reminder(self, said: Said) -> None:
        slots = said.command.slots
        try:
            zone = time_zone(said.device.time_zone)
            if "due_at" not in slots:
                raise ReminderRefused("no time was given")
            try:
                wanted = datetime.fromisoformat(slots["due_at"])
            except ValueError:
                raise ReminderRefused(f"{slots['due_at'][:40]!r} is not a time") from None
            if wanted.tzinfo is None:
                wanted = wanted.replace(tzinfo=zone)
            recurrence = recurrence_from_slot(slots.get("recurrence", ""))
            due = check_new(slots.get("text", ""), wanted, datetime.now(UTC), self.reminder_limits)
        except ReminderRefused as refused:
            self.metrics.reminders.labels("refused").inc()
            await self._reply(said, ReplyKind.REPLY_KIND_ERROR, say("reminder_refused", said.language), str(refused))
            return
        reminder = Reminder(
            reminder_id=uuid.uuid4().hex[:16],
            text=slots["text"].strip(),
            due_at=timestamp(due),
            time_zone=said.device.time_zone or "UTC",
            recurrence=recurrence,
            occurrence=0,
            language=said.language,
        )
        reminder.meta.causation_id = said.command.meta.event_id
        await self.timers.schedule(said.device_id, reminder)
        self.metrics.reminders.labels("set").inc()
        when = local_label(due, zone, datetime.now(UTC))
        if recurrence in (Recurrence.RECURRENCE_DAILY, Recurrence.RECURRENCE_WEEKLY):
            key = "daily" if recurrence == Recurrence.RECURRENCE_DAILY else "weekly"
            title = say("reminder_set_recurring", said.language, when=when, recurrence=say(key, said.language))
        else:
            title = say("reminder_set", said.language, when=when)
        await self._reply(said, ReplyKind.REPLY_KIND_ACKNOWLEDGED, title, reminder.text, reference_id=reminder.reminder_id)

    # --- the schedule ---
    async def schedule(self, said: Said) -> None:
        zone = time_zone(said.device.time_zone)
        now = datetime.now(UTC)
        local_midnight = now.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
        events = await self.store.events_between(said.device_id, now, (local_midnight + timedelta(days=1)).astimezone(UTC))
        items = [f"{local_label(e.starts_at, zone, now)} {e.summary}" for e in events]
        if not items:
            await self._reply(said, ReplyKind.REPLY_KIND_SCHEDULE, say("schedule", said.language), say("schedule_empty", said.language))
            return
        await self._reply(said, ReplyKind.REPLY_KIND_SCHEDULE, say("schedule", said.language), items=items)

    async def next_event(self, said: Said) -> None:
        zone = time_zone(said.device.time_zone)
        now = datetime.now(UTC)
        # An event under way or an all-day one is no "next".
        event = calendar.next_event(await self.store.events_between(said.device_id, now, now + timedelta(days=30)), now)
        if event is None:
            await self._reply(said, ReplyKind.REPLY_KIND_SCHEDULE, say("next_event", said.language), say("next_empty", said.language))
            return
        body = f"{local_label(event.starts_at, zone, now)} {event.summary}" + (f" · {event.location}" if event.location else "")
        await self._reply(said, ReplyKind.REPLY_KIND_SCHEDULE, say("next_event", said.language), body)

    # --- notifications ---
    async def read_notifications(self, said: Said) -> None:
        unread = self.notifications.take_unread(said.device_id)
        if not unread:
            await self._reply(
                said, ReplyKind.REPLY_KIND_NOTIFICATION, say("notifications", said.language), say("notifications_empty", said.language)
            )
            return
        items = [f"{n.title}: {n.body}" if n.body else n.title for n in unread]
        await self._reply(said, ReplyKind.REPLY_KIND_NOTIFICATION, say("notifications", said.language), items=items)

    # --- notes ---
    async def take_note(self, said: Said) -> None:
        text = said.command.slots.get("text", "").strip()
        if not text:
            await self._reply(said, ReplyKind.REPLY_KIND_ERROR, say("note_empty", said.language))
            return
        await self.store.add_note(said.device_id, text, language=said.language, at=said.at, note_id=said.command.meta.event_id)
        await self._reply(said, ReplyKind.REPLY_KIND_ACKNOWLEDGED, say("note_saved", said.language), text)

    async def start_meeting(self, said: Said) -> None:
        started = await self.store.start_meeting(said.device_id, at=said.at)
        key = "meeting_started" if started else "meeting_already"
        await self._reply(said, ReplyKind.REPLY_KIND_ACKNOWLEDGED, say(key, said.language))

    async def stop_meeting(self, said: Said) -> None:
        meeting = await self.store.stop_meeting(said.device_id, at=said.at)
        if meeting is None:
            await self._reply(said, ReplyKind.REPLY_KIND_ERROR, say("meeting_not_running", said.language))
            return
        summary = await self.summarizer.summarize([line.text for line in meeting.lines], language=said.language)
        await self.store.save_meeting_summary(
            said.device_id, meeting.meeting_id, summary.summary, list(summary.action_items), summary.engine
        )
        notes = MeetingNotes(
            meta=new_meta(said.device_id, SERVICE, causation_id=said.command.meta.event_id),
            notes_id=meeting.meeting_id,
            started_at=timestamp(meeting.started_at),
            ended_at=timestamp(said.at),
            summary=summary.summary,
            action_items=list(summary.action_items),
            engine=summary.engine,
            utterances=len(meeting.lines),
        )
        await self.publisher.publish(subjects.domain(SERVICE, "notes", said.device_id), notes, stream=ASSISTANT)
        self.metrics.meeting_notes.labels(summary.engine if summary.engine == "extractive" else "llm").inc()
        await self._reply(
            said, ReplyKind.REPLY_KIND_MEETING_NOTES, say("meeting_notes", said.language), summary.summary, items=list(summary.action_items)
        )

    # --- what is this, and open questions ---
    async def what_is_this(self, said: Said) -> None:
        recent = await self.state.recent_photo(said.device_id, self.settings.what_is_this_recent_s)
        if recent is not None:
            await self.answer_photo(said.device_id, recent, language=said.language, question=said.command.transcript, said=said)
            return
        await self.state.wait_for_photo(
            said.device_id,
            {"command": said.command.meta.event_id, "language": said.language, "question": said.command.transcript},
            self.settings.what_is_this_wait_s,
        )
        await self._device_command(said, DeviceCommand(take_photo=TakePhoto(purpose="what_is_this")))
        await self._reply(said, ReplyKind.REPLY_KIND_ACKNOWLEDGED, say("what_is_this_wait", said.language))
        # The photo may never come (no camera, privacy mode, the link or vision down): the wearer
        # is told so once the wait is over, not left with "Looking…". A newer question replaces
        # the device's waiting one, and its watch.
        await self._stop_watch(said.device_id)
        watch = asyncio.create_task(self._no_photo_after(said, self.settings.what_is_this_wait_s), name="assistant-what-is-this")
        self._photo_watches[said.device_id] = watch
        watch.add_done_callback(functools.partial(self._watch_done, said.device_id))

    def _watch_done(self, device_id: str, task: asyncio.Task[None]) -> None:
        if self._photo_watches.get(device_id) is task:
            del self._photo_watches[device_id]

    async def _no_photo_after(self, said: Said, wait_s: float) -> None:
        # A little past the question's deadline: a photo that comes later is not taken for it either.
        await asyncio.sleep(wait_s + 0.05)
        try:
            if not await self._give_up_photo_question(said):
                return  # answered, or a newer "what is this" waits now (its own watch speaks for it)
            log.info(
                "no photo for 'what is this'",
                extra={"device_id": said.device_id, "event_id": said.command.meta.event_id, "waited_s": wait_s},
            )
            title, body = look.no_photo(said.language, wait_s)
            await self._reply(said, ReplyKind.REPLY_KIND_ERROR, title, body)
        except Exception:  # a bus error here must not go unseen, nor stop the others
            log.exception("'what is this' photo wait failed", extra={"device_id": said.device_id})

    async def _give_up_photo_question(self, said: Said) -> bool:
        """True (once) when the device's waiting question is still this command's; it is removed.
        The key and value are DeviceState.wait_for_photo's (state.py is not this change's)."""
        key = f"look.{said.device_id}"
        waiting = await self.state.store.get(key)
        if waiting is None or waiting.get("command") != said.command.meta.event_id:
            return False
        await self.state.store.delete(key)
        return True

    async def answer_photo(
        self, device_id: str, photo: look.PhotoGist, *, language: str, question: str, said: Said | None = None, causation_id: str = ""
    ) -> None:
        """`causation_id`: the waiting command's event id, when the answer comes with a later photo."""
        if said is None:
            # The photo came for the waiting question: nothing left to wait for here.
            await self._stop_watch(device_id)
        described = look.describe(photo, language)
        causation = said.command.meta.event_id if said else causation_id
        ended = said.speech_ended_at if said else None
        if described is None:
            await self.replier.send(
                device_id, ReplyKind.REPLY_KIND_ANSWER, say("what_is_this_none", language), language=language, causation_id=causation
            )
            return
        title, body, items = described
        # With an LLM, a sentence from what vision read; without one (or when it fails), the tags themselves.
        answer = await self.answerer.answer(question or "What is this?", language=language, context=look.context_for_llm(photo))
        if answer.fallback_reason:
            self.metrics.llm_answers.labels("fallback").inc()
        else:
            self.metrics.llm_answers.labels("ok").inc()
            body = answer.text
        log.info(
            "'what is this' answered",
            extra={"device_id": device_id, "photo_id": photo.photo_id, "engine": answer.engine, "fallback_reason": answer.fallback_reason},
        )
        await self.replier.send(
            device_id,
            ReplyKind.REPLY_KIND_ANSWER,
            title,
            body,
            items=items,
            language=language,
            reference_id=photo.photo_id,
            causation_id=causation,
            speech_ended_at=ended,
        )

    async def ask(self, said: Said) -> None:
        question = said.command.slots.get("query", "") or said.command.transcript
        answer = await self.answerer.answer(question, language=said.language)
        if answer.fallback_reason:
            # No LLM configured, or it failed or timed out: the card says so (the reason is in the log).
            self.metrics.llm_answers.labels("failed").inc()
            await self._reply(said, ReplyKind.REPLY_KIND_ERROR, answer.text, question)
            return
        self.metrics.llm_answers.labels("ok").inc()
        log.info("question answered", extra={"device_id": said.device_id, "engine": answer.engine})
        await self._reply(said, ReplyKind.REPLY_KIND_ANSWER, say("answer", said.language), answer.text)

    _acts: ClassVar[dict[int, Callable[[CommandDesk, Said], Awaitable[None]]]] = {
        IntentKind.INTENT_KIND_TAKE_PHOTO: take_photo,
        IntentKind.INTENT_KIND_TRANSLATE: translate_view,
        IntentKind.INTENT_KIND_START_CONVERSATION_TRANSLATION: conversation_on,
        IntentKind.INTENT_KIND_STOP_CONVERSATION_TRANSLATION: conversation_off,
        IntentKind.INTENT_KIND_PRICE_CHECK: handed_off,
        IntentKind.INTENT_KIND_BUY: handed_off,
        IntentKind.INTENT_KIND_ADD_TO_CART: handed_off,
        IntentKind.INTENT_KIND_CONFIRM: handed_off,
        IntentKind.INTENT_KIND_CANCEL: handed_off,
        IntentKind.INTENT_KIND_NAVIGATE: navigate,
        IntentKind.INTENT_KIND_STOP_NAVIGATION: stop_navigation,
        IntentKind.INTENT_KIND_SET_REMINDER: set_reminder,
        IntentKind.INTENT_KIND_SCHEDULE: schedule,
        IntentKind.INTENT_KIND_NEXT_EVENT: next_event,
        IntentKind.INTENT_KIND_READ_NOTIFICATIONS: read_notifications,
        IntentKind.INTENT_KIND_TAKE_NOTE: take_note,
        IntentKind.INTENT_KIND_START_MEETING_NOTES: start_meeting,
        IntentKind.INTENT_KIND_STOP_MEETING_NOTES: stop_meeting,
        IntentKind.INTENT_KIND_WHAT_IS_THIS: what_is_this,
        IntentKind.INTENT_KIND_ASK: ask,
    }

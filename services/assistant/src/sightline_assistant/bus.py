"""The assistant's bus surface: everything it takes from and gives to the bus."""

from __future__ import annotations

from nats.js.api import DeliverPolicy
from sightline.v1.asr_pb2 import Transcript
from sightline.v1.assistant_pb2 import (
    AssistantReply,
    Command,
    GetTranscriptRequest,
    GetTranscriptResponse,
    ImportCalendarRequest,
    ImportCalendarResponse,
    MeetingNotes,
    Notification,
    Reminder,
)
from sightline.v1.device_pb2 import DeviceCommand
from sightline.v1.input_pb2 import DeviceInput
from sightline.v1.translation_pb2 import Translation
from sightline.v1.vision_pb2 import VisionResult
from sightline_runtime import subjects
from sightline_runtime.admission import INPUTS
from sightline_runtime.consumer import HandlerSpec
from sightline_runtime.streams import DAY, BucketSpec, ConsumerSpec, StreamSpec
from sightline_runtime.surface import BusSurface, OwnedStream, Publish, Serve, Subscribe, UseBucket

SERVICE = "assistant"

COMMANDS = subjects.domain_all(SERVICE, "command")
REPLIES = subjects.domain_all(SERVICE, "reply")
NOTIFICATIONS = subjects.domain_all(SERVICE, "notification")
NOTES = subjects.domain_all(SERVICE, "notes")
# A reminder waiting to fire: a scheduled message, one subject per reminder.
TIMERS = "assistant.timer.*.*"
# Where the server publishes it when it is due.
DUE = subjects.domain_all(SERVICE, "due")

GET_TRANSCRIPT = "assistant.rpc.get_transcript"
IMPORT_CALENDAR = "assistant.rpc.import_calendar"


def timer_subject(device_id: str, reminder_id: str) -> str:
    return f"assistant.timer.{subjects.check_device_id(device_id)}.{reminder_id}"


ASSISTANT = StreamSpec(
    name="ASSISTANT",
    subjects=(COMMANDS, REPLIES, NOTIFICATIONS, NOTES),
    description="What the wearer asked (commands), what the assistant answered, notifications and meeting notes",
    max_age_s=30 * DAY,
)
# Durable timers: JetStream keeps each scheduled reminder and publishes it on
# assistant.due.<device> at its time, across restarts of the assistant and of
# the hub. Kept longer than the furthest reminder one may set (a year).
ASSISTANT_TIMERS = StreamSpec(
    name="ASSISTANT_TIMERS",
    subjects=(TIMERS, DUE),
    description="Reminders waiting for their time (scheduled messages), and their firings",
    max_age_s=400 * DAY,
    allow_msg_schedules=True,
)
# Small per-device state every replica must agree on: command mode opened by
# a button, the day's briefing shown, navigation on. Two days is longer than
# any of it matters (a navigation left on for two days is over).
STATE = BucketSpec(
    name="assistant_state", description="Assistant per-device state: command mode, briefing day, navigation", history=1, ttl_s=2 * DAY
)

SURFACE = BusSurface(
    service=SERVICE,
    description="understands the wearer's commands; reminders, schedule, notifications, transcripts and meeting notes",
    subscribes=(
        # Every final is kept (the transcript); those addressed to the assistant become commands.
        Subscribe(
            HandlerSpec(
                "asr_final",
                Transcript,
                consumer=ConsumerSpec(
                    "assistant-asr-finals", subjects.domain_all("asr", "final"), "assistant: commands and the transcript"
                ),
                dedup=True,
            ),
            "on_final",
        ),
        Subscribe(
            HandlerSpec(
                "translation_final",
                Translation,
                consumer=ConsumerSpec(
                    "assistant-translation-finals",
                    subjects.domain_all("translation", "final"),
                    "assistant: translations for the transcript",
                ),
            ),
            "on_translation",
        ),
        Subscribe(
            HandlerSpec(
                "device_input",
                DeviceInput,
                consumer=ConsumerSpec(
                    "assistant-input",
                    subjects.UP_INPUT_ALL,
                    "assistant: command-mode buttons, spoken intents from the glasses, answers to its cards",
                    deliver_policy=DeliverPolicy.NEW,
                ),
                dedup=True,
                admission=INPUTS,
            ),
            "on_input",
        ),
        Subscribe(
            HandlerSpec(
                "reminder_due",
                Reminder,
                consumer=ConsumerSpec("assistant-reminders-due", DUE, "assistant: reminders the server says are due"),
                dedup=True,
            ),
            "on_reminder_due",
        ),
        # "What is this": the photo vision read, answered on a card.
        Subscribe(
            HandlerSpec(
                "vision_result",
                VisionResult,
                consumer=ConsumerSpec(
                    "assistant-vision-results",
                    subjects.domain_all("vision", "result"),
                    "assistant: what vision saw, for 'what is this'",
                    deliver_policy=DeliverPolicy.NEW,
                ),
            ),
            "on_vision_result",
        ),
    ),
    publishes=(
        Publish(COMMANDS, Command, ASSISTANT, description="a command the wearer gave, for the service that acts on it"),
        Publish(REPLIES, AssistantReply, ASSISTANT, description="what the assistant shows the wearer (overlay draws it as a card)"),
        Publish(NOTIFICATIONS, Notification, ASSISTANT, description="a notification pushed to a device, with what became of it"),
        Publish(NOTES, MeetingNotes, ASSISTANT, description="the summary and action items of a meeting"),
        Publish(TIMERS, Reminder, ASSISTANT_TIMERS, description="a reminder scheduled for its time"),
        Publish(DUE, Reminder, ASSISTANT_TIMERS, description="a reminder firing (published by the server at its time)"),
        Publish(subjects.DOWN_COMMAND_ALL, DeviceCommand, description="asks the glasses to take a photo or turn translation on or off"),
    ),
    streams=(OwnedStream(ASSISTANT), OwnedStream(ASSISTANT_TIMERS)),
    buckets=(UseBucket(STATE, writes=True),),
    serves=(
        Serve(GET_TRANSCRIPT, GetTranscriptRequest, GetTranscriptResponse, "get_transcript"),
        Serve(IMPORT_CALENDAR, ImportCalendarRequest, ImportCalendarResponse, "import_calendar"),
    ),
)

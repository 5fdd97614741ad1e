"""Reminders as JetStream scheduled messages (durable timers).

Setting a reminder publishes it on assistant.timer.<device>.<reminder_id>
with `Nats-Schedule: @at <time>`; the server keeps it in ASSISTANT_TIMERS
and, at that time, publishes a copy on assistant.due.<device> and removes
the schedule. Nothing sleeps in the assistant: a reminder survives the
assistant's and the hub's restarts, and a replica that is down at the due
time finds the firing waiting in the stream.

Each firing's event id is `<reminder_id>-<occurrence>`: the schedule's
Nats-Msg-Id (a retried publish schedules once) and the firing's inbox key
(a redelivered firing is shown once).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError
from sightline.v1.assistant_pb2 import Reminder
from sightline_runtime.events import new_meta
from sightline_runtime.publisher import EventPublisher

from sightline_assistant.bus import ASSISTANT_TIMERS, DUE, SERVICE, timer_subject
from sightline_assistant.domain.reminders import rfc3339_ms

log = logging.getLogger(__name__)

SCHEDULE_HEADER = "Nats-Schedule"
SCHEDULE_TARGET_HEADER = "Nats-Schedule-Target"


def occurrence_id(reminder_id: str, occurrence: int) -> str:
    return f"{reminder_id}-{occurrence}"


def due_at(reminder: Reminder) -> datetime:
    return reminder.due_at.ToDatetime(tzinfo=UTC)


class ReminderTimers:
    def __init__(self, publisher: EventPublisher, js: JetStreamContext | None) -> None:
        self.publisher = publisher
        # None in memory (TestNatsBroker): nothing to list or cancel there.
        self.js = js

    async def schedule(self, device_id: str, reminder: Reminder) -> None:
        """Schedule `reminder` (its due_at and occurrence set) for its time."""
        reminder.meta.CopyFrom(
            new_meta(
                device_id,
                SERVICE,
                event_id=occurrence_id(reminder.reminder_id, reminder.occurrence),
                causation_id=reminder.meta.causation_id,
            )
        )
        headers = {
            SCHEDULE_HEADER: f"@at {rfc3339_ms(due_at(reminder))}",
            SCHEDULE_TARGET_HEADER: DUE.replace("*", device_id),
        }
        await self.publisher.publish(timer_subject(device_id, reminder.reminder_id), reminder, stream=ASSISTANT_TIMERS, headers=headers)

    async def cancel(self, device_id: str, reminder_id: str) -> bool:
        """Remove a reminder that has not fired; False when there was none."""
        if self.js is None:
            return False
        subject = timer_subject(device_id, reminder_id)
        try:
            await self.js.get_last_msg(ASSISTANT_TIMERS.name, subject)
        except NotFoundError:
            return False
        await self.js.purge_stream(ASSISTANT_TIMERS.name, subject=subject)
        return True

    async def pending(self, device_id: str, *, limit: int = 100) -> list[Reminder]:
        """The device's reminders still waiting, soonest first."""
        if self.js is None:
            return []
        subject = timer_subject(device_id, "*")
        # An ephemeral consumer reads the one schedule message per reminder subject.
        sub = await self.js.pull_subscribe(
            subject,
            stream=ASSISTANT_TIMERS.name,
            config=ConsumerConfig(deliver_policy=DeliverPolicy.LAST_PER_SUBJECT, inactive_threshold=10.0),
        )
        found: list[Reminder] = []
        try:
            info = await sub.consumer_info()
            remaining = min(int(info.num_pending), limit)
            while remaining > 0:
                batch = await sub.fetch(min(remaining, 100), timeout=2.0)
                for msg in batch:
                    reminder = Reminder()
                    try:
                        reminder.ParseFromString(msg.data)
                    except Exception:  # noqa: BLE001 - one unreadable entry must not hide the others
                        log.warning("unreadable scheduled reminder", extra={"subject": msg.subject})
                        continue
                    found.append(reminder)
                remaining -= len(batch)
        finally:
            await sub.unsubscribe()
        found.sort(key=lambda r: (r.due_at.seconds, r.due_at.nanos))
        return found


def timestamp(moment: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(moment.astimezone(UTC))
    return ts

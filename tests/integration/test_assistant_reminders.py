"""Reminders are durable timers in JetStream: set, then the assistant killed
and the hub restarted, a reminder still fires once, on time; recurring ones
schedule their next firing; bad ones are refused with a card."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import nats
import pytest
from sightline.v1.assistant_pb2 import AssistantReply, Reminder, ReplyKind
from sightline.v1.input_pb2 import DeviceInput, IntentKind, VoiceIntent
from sightline_assistant.app import create_service
from sightline_assistant.bus import ASSISTANT_TIMERS
from sightline_assistant.settings import AssistantSettings
from sightline_runtime import subjects
from sightline_runtime.devices import DeviceRegistry
from sightline_runtime.events import event_headers, new_meta
from sightline_runtime.processes import free_port
from sightline_runtime.pytest_plugin import running_service
from sightline_runtime.streams import GLASSES_UP

DEVICE = "rem-1"


def settings(url: str, tmp_path) -> AssistantSettings:
    return AssistantSettings(
        nats_url=url, http_port=free_port(), http_host="127.0.0.1", assistant_data_dir=tmp_path / "assistant", nats_startup_timeout_s=10
    )


class Replies:
    """Every AssistantReply of the device, as it is stored."""

    def __init__(self) -> None:
        self.seen: list[tuple[float, AssistantReply]] = []

    async def on(self, msg) -> None:
        self.seen.append((time.time(), AssistantReply.FromString(msg.data)))

    def of(self, kind: int) -> list[tuple[float, AssistantReply]]:
        return [(at, r) for at, r in self.seen if r.kind == kind]

    async def wait(self, kind: int, count: int = 1, timeout_s: float = 15.0) -> list[tuple[float, AssistantReply]]:
        async with asyncio.timeout(timeout_s):
            while len(self.of(kind)) < count:
                await asyncio.sleep(0.05)
        return self.of(kind)


async def _say(js, intent: IntentKind.ValueType, **slots: str) -> None:
    event = DeviceInput(meta=new_meta(DEVICE, "glasses"), voice_intent=VoiceIntent(kind=intent, transcript="(test)", slots=slots))
    await js.publish(subjects.up_input(DEVICE), event.SerializeToString(), headers=event_headers(event), stream=GLASSES_UP.name)


@pytest.fixture
def hub(nats_server_factory):
    return nats_server_factory("hub")


async def _client(url: str):
    client = await nats.connect(url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
    return client


async def test_a_reminder_survives_the_assistant_and_the_hub_restarting_and_fires_once_on_time(hub, tmp_path, assistant_understander):
    client = await _client(hub.url)
    replies = Replies()
    await client.subscribe(subjects.domain_all("assistant", "reply"), cb=replies.on)
    registry = await DeviceRegistry(client.jetstream()).open()
    await registry.add(DEVICE)
    due = datetime.now(UTC) + timedelta(seconds=6)
    async with running_service(create_service(settings(hub.url, tmp_path), understander=assistant_understander)):
        await _say(client.jetstream(), IntentKind.INTENT_KIND_SET_REMINDER, text="stretch", due_at=due.isoformat())
        ((_, ack),) = await replies.wait(ReplyKind.REPLY_KIND_ACKNOWLEDGED)
        assert "stretch" in ack.body
    await client.close()
    # The assistant is gone; now the hub goes down and comes back on the same store.
    hub.stop()
    hub.start()
    client = await _client(hub.url)
    replies = Replies()
    await client.subscribe(subjects.domain_all("assistant", "reply"), cb=replies.on)
    await client.flush()
    async with running_service(create_service(settings(hub.url, tmp_path), understander=assistant_understander)):
        [(at, fired)] = await replies.wait(ReplyKind.REPLY_KIND_REMINDER, timeout_s=15)
        assert fired.body == "stretch"
        assert abs(at - due.timestamp()) < 1.0, f"fired {at - due.timestamp():+.3f} s from its time"
        await asyncio.sleep(2.0)
        assert len(replies.of(ReplyKind.REPLY_KIND_REMINDER)) == 1
        # Nothing is left waiting: the schedule went with its firing.
        info = await client.jetstream().stream_info(ASSISTANT_TIMERS.name, subjects_filter="assistant.timer.>")
        assert not info.state.subjects
    await client.close()


async def test_a_daily_reminder_schedules_its_next_firing_and_bad_ones_are_refused(hub, tmp_path, assistant_understander):
    client = await _client(hub.url)
    js = client.jetstream()
    replies = Replies()
    await client.subscribe(subjects.domain_all("assistant", "reply"), cb=replies.on)
    registry = await DeviceRegistry(js).open()
    await registry.add(DEVICE)
    due = datetime.now(UTC) + timedelta(seconds=3)
    async with running_service(create_service(settings(hub.url, tmp_path), understander=assistant_understander)):
        await _say(js, IntentKind.INTENT_KIND_SET_REMINDER, text="water the plants", due_at=due.isoformat(), recurrence="daily")
        await replies.wait(ReplyKind.REPLY_KIND_REMINDER, timeout_s=10)
        # The next firing waits as a schedule, a day later at the same time.
        async with asyncio.timeout(5):
            while True:
                info = await js.stream_info(ASSISTANT_TIMERS.name, subjects_filter="assistant.timer.>")
                if info.state.subjects:
                    break
                await asyncio.sleep(0.05)
        [subject] = info.state.subjects
        msg = await js.get_last_msg(ASSISTANT_TIMERS.name, subject)
        upcoming = Reminder.FromString(msg.data)
        assert upcoming.occurrence == 1
        assert upcoming.due_at.ToDatetime(tzinfo=UTC) - due == timedelta(days=1)
        # In the past, unknown recurrence, no text, not a time: each a clear card, nothing scheduled.
        await _say(js, IntentKind.INTENT_KIND_SET_REMINDER, text="too late", due_at=(datetime.now(UTC) - timedelta(hours=1)).isoformat())
        await _say(js, IntentKind.INTENT_KIND_SET_REMINDER, text="x", due_at=due.isoformat(), recurrence="hourly")
        await _say(js, IntentKind.INTENT_KIND_SET_REMINDER, text="", due_at=(due + timedelta(hours=1)).isoformat())
        await _say(js, IntentKind.INTENT_KIND_SET_REMINDER, text="x", due_at="at teatime")
        errors = await replies.wait(ReplyKind.REPLY_KIND_ERROR, count=4)
        reasons = sorted(r.body for _, r in errors)
        assert any("already passed" in r for r in reasons)
        assert any("recurrence" in r for r in reasons)
        assert any("something to remind" in r for r in reasons)
        assert any("not a time" in r for r in reasons)
        info = await js.stream_info(ASSISTANT_TIMERS.name, subjects_filter="assistant.timer.>")
        assert len(info.state.subjects) == 1
    await client.close()

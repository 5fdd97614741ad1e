"""The assistant's replies through the overlay's handlers. With faststream's
in-memory TestNatsBroker: a reply becomes the device's card, latest wins,
old replies are history (reminders and notifications show late, with their
time), bad input gets a clear outcome, and the metrics count it all. Last,
against a real nats-server: the overlay service runs as in production,
attaches its durable once the assistant's stream exists, and a reply
published there is a card on the right pair of glasses."""

from __future__ import annotations

import asyncio
import datetime as dt

import nats
import pytest
from faststream.nats import TestNatsBroker
from sightline.v1.assistant_pb2 import AssistantReply, ReplyAction, ReplyKind
from sightline.v1.display_pb2 import CardKind, DisplayUpdate, HudRegion
from sightline_glasses.agent import GlassesAgent
from sightline_overlay.app import create_service
from sightline_overlay.settings import OverlaySettings
from sightline_runtime import subjects
from sightline_runtime.devices import DeviceRegistry, StaticDirectory
from sightline_runtime.events import event_headers, new_meta
from sightline_runtime.inbox import MemoryInbox
from sightline_runtime.processes import free_port
from sightline_runtime.streams import DAY, StreamSpec, ensure_streams
from sightline_runtime.surface import deployment_streams

# The assistant's stream as its bus.py declares it (services never import each other).
ASSISTANT = StreamSpec(
    name="ASSISTANT",
    subjects=("assistant.command.*", "assistant.reply.*", "assistant.notification.*", "assistant.notes.*"),
    description="the assistant's commands, replies, notifications and meeting notes",
    max_age_s=30 * DAY,
)


def reply(device: str, kind=ReplyKind.REPLY_KIND_ANSWER, title="", *, ago_s: float = 0.0, **fields) -> AssistantReply:
    actions = fields.pop("actions", ())
    event = AssistantReply(meta=new_meta(device, "assistant"), kind=kind, title=title, **fields)
    event.meta.created_at.FromDatetime(dt.datetime.now(dt.UTC) - dt.timedelta(seconds=ago_s))
    event.actions.extend(ReplyAction(action_id=action_id, label=label) for action_id, label in actions)
    return event


def watch(service, device: str) -> list[DisplayUpdate]:
    received: list[DisplayUpdate] = []

    @service.broker.subscriber(f"glasses.{device}.down.display")
    async def on_display(body: bytes):
        received.append(DisplayUpdate.FromString(body))

    return received


def sample(of, name: str, **labels) -> float:
    return of.metrics.registry.get_sample_value(name, labels) or 0.0


@pytest.fixture
async def service():
    service = create_service(OverlaySettings())
    await service.assemble_in_memory(StaticDirectory(["a", "b"]), MemoryInbox())
    yield service
    await service.handlers.close()


async def test_a_reply_is_the_devices_card_and_the_latest_wins(service):
    on_a, on_b = watch(service, "a"), watch(service, "b")
    suggestion = reply(
        "a",
        ReplyKind.REPLY_KIND_SUGGESTION,
        "Did you mean: take a photo?",
        body="I heard “make a photo”.",
        actions=[("s1:yes", "Yes"), ("s1:no", "No")],
        reference_id="cmd-1",
        language="en",
    )
    suggestion.speech_ended_at.FromDatetime(dt.datetime.now(dt.UTC) - dt.timedelta(milliseconds=400))
    schedule = reply("a", ReplyKind.REPLY_KIND_SCHEDULE, "Today", items=["09:00 Stand-up", "14:00 Dentist"], ttl_ms=5_000)
    async with TestNatsBroker(service.broker) as broker:
        await broker.publish(suggestion.SerializeToString(), "assistant.reply.a")
        await broker.publish(schedule.SerializeToString(), "assistant.reply.a")
    first, second = on_a
    assert first.region == second.region == HudRegion.HUD_REGION_CARD
    assert (first.bounds.x, first.bounds.y, first.bounds.width, first.bounds.height) == (64, 48, 512, 256)
    card = first.card
    assert card.kind == CardKind.CARD_KIND_SUGGESTION
    assert list(card.title.lines) == ["Did you mean: take a photo?"]
    assert list(card.body.lines) == ["I heard “make a photo”."]
    assert [(a.action_id, a.label) for a in card.actions] == [("s1:yes", "Yes"), ("s1:no", "No")]
    assert card.reference_id == "cmd-1"
    assert card.card_id == suggestion.meta.event_id
    assert first.ttl_ms == 10_000, "the suggestion's default"
    assert first.meta.causation_id == suggestion.meta.event_id
    assert second.card.kind == CardKind.CARD_KIND_INFO
    assert [list(item.lines) for item in second.card.items] == [["09:00 Stand-up"], ["14:00 Dentist"]]
    assert second.ttl_ms == 5_000, "the reply's own"
    assert second.region_version > first.region_version, "latest wins on the glasses"
    assert on_b == []
    assert sample(service, "sightline_overlay_cards_total", kind="suggestion", outcome="shown") == 1
    assert sample(service, "sightline_overlay_cards_total", kind="schedule", outcome="shown") == 1
    assert sample(service, "sightline_overlay_display_updates_total", region="card") == 2
    assert sample(service, "sightline_overlay_speech_to_card_seconds_count", kind="suggestion") == 1
    assert 0.4 <= sample(service, "sightline_overlay_speech_to_card_seconds_sum", kind="suggestion") < 5
    assert sample(service, "sightline_overlay_speech_to_card_seconds_count", kind="schedule") == 0, "no speech, no latency"


async def test_old_replies_are_history_but_reminders_and_notifications_show_late_with_their_time(service):
    service.guard.directory.records["a"].time_zone = "Asia/Shanghai"
    on_a = watch(service, "a")
    made = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)
    async with TestNatsBroker(service.broker) as broker:
        await broker.publish(reply("a", ReplyKind.REPLY_KIND_ANSWER, "Old answer", ago_s=600).SerializeToString(), "assistant.reply.a")
        await broker.publish(reply("a", ReplyKind.REPLY_KIND_SUGGESTION, "Old guess", ago_s=31).SerializeToString(), "assistant.reply.a")
        await broker.publish(reply("a", ReplyKind.REPLY_KIND_REMINDER, "Call Mum", ago_s=600).SerializeToString(), "assistant.reply.a")
    [update] = on_a
    local = made.astimezone(dt.timezone(dt.timedelta(hours=8)))
    assert update.card.kind == CardKind.CARD_KIND_REMINDER
    assert update.card.title.lines[0] in {f"{local:%H:%M} · Call Mum", f"{local + dt.timedelta(minutes=1):%H:%M} · Call Mum"}
    assert update.ttl_ms == 30_000
    assert sample(service, "sightline_overlay_cards_total", kind="answer", outcome="stale") == 1
    assert sample(service, "sightline_overlay_cards_total", kind="suggestion", outcome="stale") == 1
    assert sample(service, "sightline_overlay_cards_total", kind="reminder", outcome="late") == 1


async def test_bad_replies_get_a_clear_outcome(service):
    on_a = watch(service, "a")
    async with TestNatsBroker(service.broker) as broker:
        await broker.publish(reply("a", ReplyKind.REPLY_KIND_ANSWER).SerializeToString(), "assistant.reply.a")  # nothing to show
        await broker.publish(reply("a", ReplyKind.REPLY_KIND_ANSWER, " \x00\u202e ").SerializeToString(), "assistant.reply.a")
        await broker.publish(reply("stranger", ReplyKind.REPLY_KIND_ANSWER, "Hi").SerializeToString(), "assistant.reply.stranger")
        await broker.publish(b"\xff\x00 not a protobuf", "assistant.reply.a")
        huge = reply("a", 42, "Unknown \x1b kind", body="y" * 200_000, actions=[("", "no id"), ("ok", "OK")])
        await broker.publish(huge.SerializeToString(), "assistant.reply.a")
    rejected = {
        reason: sample(service, "sightline_events_rejected_total", service="overlay", handler="assistant_reply", reason=reason)
        for reason in ("invalid", "unknown_device", "malformed")
    }
    assert rejected == {"invalid": 2, "unknown_device": 1, "malformed": 1}
    assert sample(service, "sightline_overlay_cards_total", kind="answer", outcome="rejected") == 2
    [update] = on_a  # an unknown kind, a huge body and a bad action: a sanitised info card
    assert update.card.kind == CardKind.CARD_KIND_INFO
    assert list(update.card.title.lines) == ["Unknown  kind"]
    assert update.card.body.truncated
    assert len(update.card.body.lines) == 4
    assert [a.action_id for a in update.card.actions] == ["ok"]
    assert sample(service, "sightline_overlay_cards_total", kind="unknown", outcome="shown") == 1


# --- a real nats-server ---
async def test_a_reply_on_the_assistants_stream_is_a_card_on_the_glasses(nats_server, run_service):
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    await ensure_streams(js, deployment_streams([]))
    registry = await DeviceRegistry(js).open()
    await registry.add("a")
    await registry.add("b")
    overlay = await run_service(create_service(OverlaySettings(nats_url=nats_server.url, http_port=free_port(), http_host="127.0.0.1")))
    assert "assistant_reply" in {p.spec.name for p in overlay._pending}, "no assistant stream yet"

    # The assistant starts: its stream appears and the overlay's durable attaches (at new replies).
    await ensure_streams(js, [ASSISTANT])
    async with asyncio.timeout(15):
        while "overlay-assistant-replies" not in {info.name for info in await js.consumers_info("ASSISTANT")}:
            await asyncio.sleep(0.05)

    async with GlassesAgent.connect("a", nats_server.url) as a, GlassesAgent.connect("b", nats_server.url) as b:
        items = ["09:00 Stand-up", "12:30 Lunch with Ana"]
        event = reply("a", ReplyKind.REPLY_KIND_BRIEFING, "Good morning", body="2 events today", items=items)
        subject = subjects.domain("assistant", "reply", "a")
        await js.publish(subject, event.SerializeToString(), headers=event_headers(event), stream="ASSISTANT")
        cards = [u async for u in a.updates(1.5) if u.region == HudRegion.HUD_REGION_CARD]
        assert [(u.card.kind, list(u.card.title.lines), [list(i.lines) for i in u.card.items]) for u in cards] == [
            (CardKind.CARD_KIND_BRIEFING, ["Good morning"], [["09:00 Stand-up"], ["12:30 Lunch with Ana"]])
        ]
        assert a.hud.regions[HudRegion.HUD_REGION_CARD].card.body.lines == ["2 events today"]
        assert [u async for u in b.updates(0.3) if u.region == HudRegion.HUD_REGION_CARD] == []
    await nc.drain()

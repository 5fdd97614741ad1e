"""The overlay's wiring with faststream's in-memory TestNatsBroker: fast
checks of routing and rejection. The same paths run against a real
nats-server in tests/integration."""

import pytest
from faststream.nats import TestNatsBroker
from sightline.v1.display_pb2 import DisplayUpdate
from sightline.v1.input_pb2 import DeviceInput, TextInput
from sightline_overlay.app import create_service
from sightline_overlay.settings import OverlaySettings
from sightline_runtime.devices import StaticDirectory
from sightline_runtime.events import new_meta
from sightline_runtime.inbox import MemoryInbox


def _text(device, text):
    return DeviceInput(meta=new_meta(device, "glasses"), text=TextInput(text=text)).SerializeToString()


@pytest.fixture
async def service():
    service = create_service(OverlaySettings())
    await service.assemble_in_memory(StaticDirectory(["a", "b"]), MemoryInbox())
    return service


async def test_text_input_becomes_a_panel_for_that_device_only(service):
    broker = service.broker
    received: dict[str, list[DisplayUpdate]] = {"a": [], "b": []}

    @broker.subscriber("glasses.a.down.display")
    async def on_a(body: bytes):
        received["a"].append(DisplayUpdate.FromString(body))

    @broker.subscriber("glasses.b.down.display")
    async def on_b(body: bytes):
        received["b"].append(DisplayUpdate.FromString(body))

    async with TestNatsBroker(broker) as test_broker:
        await test_broker.publish(_text("a", "hello from a"), "glasses.a.up.input")
    assert [u.panel.text.lines[0] for u in received["a"]] == ["hello from a"]
    assert received["b"] == []
    assert received["a"][0].meta.device_id == "a"


async def test_unknown_device_and_garbage_are_refused_and_counted(service):
    shown = []

    @service.broker.subscriber("glasses.*.down.display")
    async def on_any(body: bytes):
        shown.append(body)

    async with TestNatsBroker(service.broker) as test_broker:
        await test_broker.publish(_text("stranger", "hi"), "glasses.stranger.up.input")
        await test_broker.publish(b"\xff\x00garbage", "glasses.a.up.input")
    assert shown == []
    rejected = service.metrics.registry.get_sample_value
    assert rejected("sightline_events_rejected_total", {"service": "overlay", "handler": "device_input", "reason": "unknown_device"}) == 1
    assert rejected("sightline_events_rejected_total", {"service": "overlay", "handler": "device_input", "reason": "malformed"}) == 1


async def test_a_redelivered_input_is_shown_once(service):
    shown = []

    @service.broker.subscriber("glasses.a.down.display")
    async def on_a(body: bytes):
        shown.append(body)

    same = _text("a", "once")
    async with TestNatsBroker(service.broker) as test_broker:
        await test_broker.publish(same, "glasses.a.up.input")
        await test_broker.publish(same, "glasses.a.up.input")
    assert len(shown) == 1
    assert (
        service.metrics.registry.get_sample_value(
            "sightline_events_handled_total", {"service": "overlay", "handler": "device_input", "outcome": "duplicate"}
        )
        == 1
    )

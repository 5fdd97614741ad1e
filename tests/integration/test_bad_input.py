"""Bad input over a real nats-server: every kind is refused with a log line,
a metric, a dead letter that keeps the payload, and an ErrorEvent — never a
crash or a redelivery loop — and the service keeps serving good events."""

import asyncio
import logging

import httpx
import nats
import pytest
from nats.js.api import StreamSource, SubjectTransform
from sightline.v1.errors_pb2 import ErrorCode, ErrorEvent
from sightline.v1.input_pb2 import DeviceInput, TextInput
from sightline_glasses.agent import GlassesAgent
from sightline_overlay.app import create_service
from sightline_overlay.settings import OverlaySettings
from sightline_runtime import subjects
from sightline_runtime.consumer import DLQ_REASON, DLQ_SUBJECT, HandlerSpec
from sightline_runtime.events import HEADER_MSG_ID, new_meta
from sightline_runtime.pytest_plugin import handler_service
from sightline_runtime.settings import ServiceSettings
from sightline_runtime.streams import GLASSES_UP, ConsumerSpec

from tests.integration.streams import read_stream


def _text(device: str, text: str = "hi", *, meta_device: str | None = None) -> bytes:
    return DeviceInput(meta=new_meta(meta_device or device, "glasses"), text=TextInput(text=text)).SerializeToString()


@pytest.fixture
async def overlay(nats_server, run_service, http_port):
    settings = OverlaySettings(nats_url=nats_server.url, http_port=http_port, http_host="127.0.0.1")
    return await run_service(create_service(settings))


async def _rejected(port: int, reason: str) -> float:
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
    needle = f'sightline_events_rejected_total{{handler="device_input",reason="{reason}",service="overlay"}} '
    for line in text.splitlines():
        if line.startswith(needle):
            return float(line.removeprefix(needle))
    return 0.0


CASES = [
    # (name, subject device, payload builder, expected reason, ErrorCode)
    ("malformed", "a", lambda: b"\xff\xfe\x00not protobuf", "malformed", ErrorCode.ERROR_CODE_MALFORMED),
    ("oversized", "a", lambda: _text("a", "x" * 300_000), "oversized", ErrorCode.ERROR_CODE_OVERSIZED),
    ("unknown device", "stranger", lambda: _text("stranger"), "unknown_device", ErrorCode.ERROR_CODE_UNKNOWN_DEVICE),
    ("forged device", "a", lambda: _text("a", meta_device="b"), "device_mismatch", ErrorCode.ERROR_CODE_DEVICE_MISMATCH),
    ("no event id", "a", lambda: DeviceInput(text=TextInput(text="x")).SerializeToString(), "invalid", ErrorCode.ERROR_CODE_INVALID),
    ("empty text", "a", lambda: _text("a", "   "), "invalid", ErrorCode.ERROR_CODE_INVALID),
]


@pytest.mark.parametrize(("name", "device", "payload", "reason", "code"), CASES, ids=[c[0] for c in CASES])
async def test_bad_input_is_refused_dead_lettered_and_reported(
    overlay, nats_server, nc, registry, http_port, caplog, name, device, payload, reason, code
):
    await registry.add("a")
    await registry.add("b")
    js = nc.jetstream()
    body = payload()
    with caplog.at_level(logging.WARNING, logger="sightline_runtime.consumer"):
        ack = await js.publish(f"glasses.{device}.up.input", body, stream=GLASSES_UP.name)
        # The service is still alive and serving: a good event after the bad one is shown.
        async with GlassesAgent.connect("a", nats_server.url) as glasses:
            await glasses.send_text("still here")
            shown = [u async for u in glasses.updates(2.0)]
    assert [u.panel.text.lines[0] for u in shown] == ["still here"]

    assert await _rejected(http_port, reason) == 1.0
    assert any(r.reason == reason and r.subject == f"glasses.{device}.up.input" for r in caplog.records if hasattr(r, "reason"))

    [dead] = await read_stream(js, "DEAD_LETTERS", "dlq.overlay.device_input", count=1)
    assert dead.data == body, "the dead letter keeps the payload for inspection and replay"
    assert dead.headers[DLQ_REASON] == reason
    assert dead.headers[DLQ_SUBJECT] == f"glasses.{device}.up.input"

    [error_msg] = await read_stream(js, "ERRORS", "errors.overlay.>", count=1)
    error = ErrorEvent.FromString(error_msg.data)
    assert error.code == code
    assert error.service == "overlay"
    assert error.payload_size == len(body)

    # Terminated, not redelivered: nothing pending, nothing awaiting an ack.
    info = await js.consumer_info(GLASSES_UP.name, "overlay-input")
    assert info.num_ack_pending == 0
    assert info.num_redelivered == 0
    assert info.delivered.stream_seq >= ack.seq


async def test_an_event_sourced_from_another_devices_uplink_is_refused(overlay, nats_server, nc, registry, http_port):
    """The hub sources each edge's whole outbox (UPLINK_<device>), and the edge
    owns that stream: a tampered edge b could put device a's subject into it.
    The server refuses a forged source header on publish, so this builds a real
    source: a hub-local stream UPLINK_b whose messages arrive as glasses.a.*."""
    await registry.add("a")
    await registry.add("b")
    js = nc.jetstream()
    with pytest.raises(nats.js.errors.BadRequestError, match="source header is not allowed"):
        await js.publish("glasses.a.up.input", _text("a"), stream=GLASSES_UP.name, headers={"Nats-Stream-Source": "UPLINK_b 1"})

    await js.add_stream(name="UPLINK_b", subjects=["tampered.glasses.*.up.input"])
    info = await js.stream_info(GLASSES_UP.name)
    info.config.sources = [
        *(info.config.sources or []),
        StreamSource(
            name="UPLINK_b",
            subject_transforms=[SubjectTransform(src="tampered.glasses.*.up.input", dest="glasses.{{wildcard(1)}}.up.input")],
        ),
    ]
    await js.update_stream(info.config)
    forged = _text("a", "from b's outbox")
    await js.publish("tampered.glasses.a.up.input", forged, stream="UPLINK_b")

    [dead] = await read_stream(js, "DEAD_LETTERS", "dlq.overlay.device_input", count=1)
    assert dead.headers[DLQ_REASON] == "forbidden"
    assert dead.headers[DLQ_SUBJECT] == "glasses.a.up.input"
    assert dead.data == forged
    [error_msg] = await read_stream(js, "ERRORS", "errors.overlay.>", count=1)
    assert ErrorEvent.FromString(error_msg.data).code == ErrorCode.ERROR_CODE_FORBIDDEN
    assert await _rejected(http_port, "forbidden") == 1.0


async def test_a_revoked_device_is_refused(overlay, nats_server, registry, http_port):
    await registry.add("gone")
    async with GlassesAgent.connect("gone", nats_server.url) as glasses:
        await glasses.send_text("before")
        assert len([u async for u in glasses.updates(2.0)]) == 1
        await registry.revoke("gone")
        await asyncio.sleep(0.3)  # the service's registry mirror follows the KV watch
        await glasses.send_text("after")
        assert [u async for u in glasses.updates(1.0)] == []
    assert await _rejected(http_port, "unknown_device") == 1.0


async def test_payload_over_the_server_limit_never_reaches_a_service(overlay, nats_server, nc, http_port):
    with pytest.raises(nats.errors.MaxPayloadError):
        await nc.publish("glasses.a.up.input", b"x" * (nats_server.config.max_payload + 1))
    assert await _rejected(http_port, "oversized") == 0.0


async def test_a_flood_of_garbage_is_counted_and_logged_sparingly(overlay, nc, registry, http_port, caplog):
    await registry.add("a")
    js = nc.jetstream()
    with caplog.at_level(logging.WARNING, logger="sightline_runtime.consumer"):
        for i in range(200):
            await js.publish("glasses.a.up.input", b"\xff" + bytes([i]), stream=GLASSES_UP.name)
        async with asyncio.timeout(30):
            while await _rejected(http_port, "malformed") < 200:
                await asyncio.sleep(0.1)
    lines = [r for r in caplog.records if getattr(r, "reason", "") == "malformed"]
    assert 1 <= len(lines) <= 20, "rate-limited: a flood must not flood the logs"


async def test_a_failing_handler_is_retried_with_backoff_then_dead_lettered(nats_server, run_service, nc, registry):
    attempts: list[int] = []

    async def broken(event, ctx):
        attempts.append(ctx.delivery_attempt)
        raise RuntimeError("model crashed")

    settings = ServiceSettings(nats_url=nats_server.url, http_port=0, http_host="127.0.0.1", max_deliver=3)
    spec = HandlerSpec("device_input", DeviceInput, consumer=ConsumerSpec("flaky-input", subjects.UP_INPUT_ALL))
    service = handler_service("flaky", settings, spec, broken)
    await run_service(service)
    await registry.add("a")
    js = nc.jetstream()
    body = _text("a")
    await js.publish("glasses.a.up.input", body, stream=GLASSES_UP.name)
    [dead] = await read_stream(js, "DEAD_LETTERS", "dlq.flaky.device_input", count=1, timeout_s=15)
    assert attempts == [1, 2, 3]
    assert dead.headers[DLQ_REASON] == "internal"
    assert "model crashed" in dead.headers["Sightline-Dlq-Error"]
    assert dead.data == body
    await asyncio.sleep(1.5)
    assert attempts == [1, 2, 3], "no redelivery after the dead letter"
    assert (
        service.metrics.registry.get_sample_value(
            "sightline_events_handled_total", {"service": "flaky", "handler": "device_input", "outcome": "retried"}
        )
        == 2
    )
    assert dead.headers[HEADER_MSG_ID].startswith("dlq-flaky-device_input-")


async def test_refused_core_messages_are_counted_but_reported_within_a_budget(nats_server, run_service, nc, registry):
    """Garbage on a core-NATS subject (live audio) is never persisted, so a flood
    is counted in full while dead letters and ErrorEvents stay within a budget."""
    from sightline.v1.audio_pb2 import AudioFrame  # noqa: PLC0415

    async def never(event, ctx):
        raise AssertionError("garbage reached the handler")

    settings = ServiceSettings(nats_url=nats_server.url, http_port=0, http_host="127.0.0.1")
    spec = HandlerSpec("audio_frame", AudioFrame, subject="glasses.*.up.audio", keep_payload_in_dead_letter=False)
    service = handler_service("listener", settings, spec, never)
    await run_service(service)
    await registry.add("a")
    for i in range(300):
        await nc.publish("glasses.a.up.audio", b"\xff\xfe" + bytes([i % 256]))
    sample = service.metrics.registry.get_sample_value
    labels = {"service": "listener", "handler": "audio_frame"}
    async with asyncio.timeout(20):
        while (sample("sightline_events_rejected_total", labels | {"reason": "malformed"}) or 0) < 300:
            await asyncio.sleep(0.05)
    assert sample("sightline_dead_letters_total", labels) == 5
    assert sample("sightline_error_reports_suppressed_total", labels) == 295
    dead = await read_stream(nc.jetstream(), "DEAD_LETTERS", "dlq.listener.audio_frame", count=5)
    assert all(d.data == b"" for d in dead), "audio is never kept, not even refused audio"

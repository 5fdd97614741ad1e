import asyncio
import io
import json
import logging
import time

import nats
import pytest
from opentelemetry.sdk.trace import TracerProvider
from sightline.v1.audio_pb2 import AudioFrame
from sightline_runtime.consumer import HandlerSpec
from sightline_runtime.devices import StaticDirectory
from sightline_runtime.events import event_headers, new_meta
from sightline_runtime.logs import MASK, RateLimitedLog, configure_logging, redact
from sightline_runtime.processes import free_port
from sightline_runtime.service import Service
from sightline_runtime.settings import ServiceSettings
from sightline_runtime.surface import BusSurface, Subscribe

SEED = "SUACSSL3UAHUDXKFSNVUZRF5UHPMWZ6BFDTJ7M6USDXIEDNPPQYYYCU3VY"
JWT = "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5In0.eyJqdGkiOiJBQkNERUZHIn0.c2lnbmF0dXJlc2lnbmF0dXJl"


def test_secrets_are_masked_in_free_text():
    text = f"seed {SEED} jwt {JWT} nats://svc:hunter2@hub:4222 password=hunter2 token: abc123"
    clean = redact(text)
    for secret in (SEED, JWT, "hunter2", "abc123"):
        assert secret not in clean
    assert "nats://svc:***@hub:4222" in clean


def _capture(service="overlay"):
    configure_logging(service)
    stream = io.StringIO()
    handler = logging.getLogger().handlers[0]
    handler.setStream(stream)
    return stream


def test_json_lines_carry_service_trace_ids_and_no_secrets():
    stream = _capture()
    tracer = TracerProvider().get_tracer("t")
    with tracer.start_as_current_span("work") as span:
        logging.getLogger("x").info("connecting with %s", SEED, extra={"device_id": "a", "nats_password": "hunter2"})
    line = json.loads(stream.getvalue().splitlines()[-1])
    assert line["service"] == "overlay"
    assert line["device_id"] == "a"
    assert line["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert SEED not in line["message"]
    assert line["nats_password"] == MASK


def test_rate_limited_log_holds_back_a_flood_and_reports_the_count(caplog):
    logger = logging.getLogger("flood")
    limited = RateLimitedLog(logger, burst=3, interval_s=0.05)
    with caplog.at_level(logging.WARNING, logger="flood"):
        let_through = [limited.log(logging.WARNING, "dev", "bad frame") for _ in range(100)]
    assert sum(let_through) == 3
    time.sleep(0.06)
    with caplog.at_level(logging.WARNING, logger="flood"):
        limited.log(logging.WARNING, "dev", "bad frame")
    assert caplog.records[-1].suppressed_since_last == 97


# --- per-message lines are DEBUG: a Service handling messages writes no INFO line ---
class _Frames:
    def __init__(self) -> None:
        self.handled = 0

    async def on_frame(self, frame, ctx) -> None:
        self.handled += 1


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    yield
    root.handlers[:], level = saved
    root.setLevel(level)


def _lines(stream: io.StringIO, since: int) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue()[since:].splitlines() if line.strip()]


async def _send(url: str, handler: _Frames, count: int) -> None:
    nc = await nats.connect(url)
    target = handler.handled + count
    for _ in range(count):
        frame = AudioFrame(meta=new_meta("d1", "glasses"), stream_id="s", data=b"\x00\x01" * 320)
        await nc.publish("glasses.d1.up.audio", frame.SerializeToString(), headers=event_headers(frame))
    await nc.flush()
    deadline = time.monotonic() + 5
    while handler.handled < target and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    await nc.close()
    assert handler.handled == target


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
async def test_a_handled_message_writes_no_info_line(nats_url, run_service, restore_logging, level):
    # Logging as Service.run sets it up, JSON lines at the configured level.
    stream = _capture("logtest")
    logging.getLogger().setLevel(level)
    handler = _Frames()

    async def build(_resources) -> _Frames:
        return handler

    surface = BusSurface(
        service="logtest",
        description="logging test service",
        subscribes=(Subscribe(HandlerSpec("frame", AudioFrame, subject="glasses.*.up.audio"), "on_frame"),),
    )
    settings = ServiceSettings(nats_url=nats_url, http_port=free_port(), http_host="127.0.0.1", log_level=level)
    await run_service(Service(surface, settings, build, directory=StaticDirectory(["d1"])))
    since = len(stream.getvalue())
    await _send(nats_url, handler, 50)
    lines = _lines(stream, since)
    loud = [line for line in lines if line["level"] != "DEBUG"]
    assert loud == [], f"{len(loud)} lines at INFO or above for 50 handled messages, e.g. {loud[:2]}"
    per_message = [line for line in lines if line["logger"] == "sightline.logtest.broker" and line["message"] in ("Received", "Processed")]
    # Asked for, the per-message lines are there, at DEBUG: off by default, not gone.
    assert len(per_message) == (100 if level == "DEBUG" else 0)

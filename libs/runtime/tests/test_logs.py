import io
import json
import logging
import time

from opentelemetry.sdk.trace import TracerProvider
from sightline_runtime.logs import MASK, RateLimitedLog, configure_logging, redact

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

"""Issue 2 'done when': two simulated devices send text over a real
nats-server; each receives only its own display update; the round trip is
one trace; the overlay's /metrics counts what it handled."""

import asyncio

import httpx
from opentelemetry.trace import SpanKind
from sightline_glasses.agent import GlassesAgent
from sightline_overlay.app import create_service
from sightline_overlay.settings import OverlaySettings

# (service, span name, kind, parent span name) — the hops of one text round trip.
EXPECTED_EDGES = [
    ("glasses", "glasses.input.text", SpanKind.PRODUCER, None),
    ("overlay", "glasses.{device}.up.input process", SpanKind.CONSUMER, "glasses.input.text"),
    ("overlay", "glasses.{device}.down.display create", SpanKind.PRODUCER, "glasses.{device}.up.input process"),
    ("overlay", "glasses.{device}.down.display publish", SpanKind.PRODUCER, "glasses.{device}.down.display create"),
    ("glasses", "glasses.display.receive", SpanKind.CONSUMER, "glasses.{device}.down.display create"),
]


async def test_two_devices_each_see_only_their_own_update_in_one_trace(
    nats_server, run_service, registry, tracer_for, span_exporter, http_port
):
    settings = OverlaySettings(nats_url=nats_server.url, http_port=http_port, http_host="127.0.0.1")
    await run_service(create_service(settings, tracer_provider=tracer_for("overlay")))
    await registry.add("alpha")
    await registry.add("bravo")

    async with (
        GlassesAgent.connect("alpha", nats_server.url, tracer_provider=tracer_for("glasses")) as alpha,
        GlassesAgent.connect("bravo", nats_server.url, tracer_provider=tracer_for("glasses")) as bravo,
    ):
        await asyncio.gather(alpha.send_text("hello from alpha", language="en"), bravo.send_text("你好，我是 bravo", language="zh"))
        seen_alpha = [u async for u in alpha.updates(2.0)]
        seen_bravo = [u async for u in bravo.updates(0.5)]

    assert [list(u.panel.text.lines) for u in seen_alpha] == [["hello from alpha"]]
    assert [list(u.panel.text.lines) for u in seen_bravo] == [["你好，我是 bravo"]]
    assert seen_alpha[0].meta.device_id == "alpha"
    assert seen_bravo[0].meta.device_id == "bravo"
    assert seen_bravo[0].panel.text.language == "zh"

    spans = span_exporter.get_finished_spans()
    trace_ids = set()
    for device in ("alpha", "bravo"):
        root = next(s for s in spans if s.name == "glasses.input.text" and s.attributes["sightline.device_id"] == device)
        in_trace = [s for s in spans if s.context.trace_id == root.context.trace_id]
        by_name = {s.name: s for s in in_trace}
        for service, name, kind, parent in EXPECTED_EDGES:
            span = by_name.get(name)
            assert span is not None, f"{device}: no span {name!r} in the trace; have {sorted(by_name)}"
            assert span.resource.attributes["service.name"] == service
            assert span.kind == kind
            if parent is None:
                assert span.parent is None
            else:
                assert span.parent.span_id == by_name[parent].context.span_id, f"{name} is not a child of {parent}"
        trace_ids.add(root.context.trace_id)
    assert len(trace_ids) == 2, "each device's round trip is its own trace"

    async with httpx.AsyncClient() as client:
        metrics = (await client.get(f"http://127.0.0.1:{http_port}/metrics")).text
    assert 'sightline_events_handled_total{handler="device_input",outcome="ok",service="overlay"} 2.0' in metrics
    assert 'sightline_overlay_display_updates_total{region="panel"} 2.0' in metrics
    assert 'sightline_event_handle_seconds_count{handler="device_input",service="overlay"} 2.0' in metrics


async def test_a_glasses_never_receives_another_devices_display(nats_server, run_service, registry, http_port):
    await run_service(create_service(OverlaySettings(nats_url=nats_server.url, http_port=http_port, http_host="127.0.0.1")))
    for device in ("d1", "d2", "d3"):
        await registry.add(device)
    async with (
        GlassesAgent.connect("d1", nats_server.url) as d1,
        GlassesAgent.connect("d2", nats_server.url) as d2,
        GlassesAgent.connect("d3", nats_server.url) as d3,
    ):
        for i in range(5):
            await d2.send_text(f"only for d2 #{i}")
        got_d2 = [u async for u in d2.updates(2.0)]
        assert [u async for u in d1.updates(0.3)] == []
        assert [u async for u in d3.updates(0.1)] == []
    # One device's inputs are handled in the order sent, so every update is
    # newer than the last and none is dropped as stale.
    assert [u.panel.text.lines[0] for u in got_d2] == [f"only for d2 #{i}" for i in range(5)]
    versions = [u.region_version for u in got_d2]
    assert versions == sorted(set(versions))

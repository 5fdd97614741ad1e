"""OpenTelemetry tracing. Context travels in NATS message headers (W3C
traceparent), injected and extracted by faststream's NATS telemetry
middleware inside services and by the helpers below in plain clients."""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor


def otlp_configured() -> bool:
    return bool(os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))


def make_tracer_provider(service: str, *, instance: str = "") -> TracerProvider:
    """A provider for `service`; exports over OTLP when OTEL_EXPORTER_OTLP_* is set.

    Without an endpoint spans are still created (trace ids reach the logs and
    the headers) but go nowhere, which costs little.
    """
    attributes = {"service.name": service, "service.namespace": "sightline"}
    if instance:
        attributes["service.instance.id"] = instance
    provider = TracerProvider(resource=Resource.create(attributes))
    if otlp_configured():
        # Imported lazily: the gRPC exporter pulls in a lot and most test runs have no collector.
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter  # noqa: PLC0415

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


def inject_headers(headers: MutableMapping[str, str], context: Context | None = None) -> MutableMapping[str, str]:
    """Write the current (or given) trace context into message headers."""
    propagate.inject(headers, context=context)
    return headers


def extract_context(headers: Mapping[str, str] | None) -> Context:
    return propagate.extract(dict(headers or {}))


def current_trace_ids() -> tuple[str, str]:
    """(trace_id, span_id) of the current span as hex, or ("", "")."""
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return "", ""
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")

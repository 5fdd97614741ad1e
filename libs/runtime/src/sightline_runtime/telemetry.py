"""OpenTelemetry tracing. Context travels in NATS message headers (W3C
traceparent), injected and extracted by faststream's NATS telemetry
middleware inside services and by the helpers below in plain clients."""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping
from typing import Any

from faststream.nats.opentelemetry.provider import NatsTelemetrySettingsProvider, telemetry_attributes_provider_factory
from faststream.opentelemetry.middleware import TelemetryMiddleware
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from sightline_runtime.subjects import device_token

DEVICE_ATTRIBUTE = "sightline.device_id"


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


def subject_template(subject: str) -> str:
    """glasses.a1.up.input -> glasses.{device}.up.input: span names must not
    carry a device id, or a fleet turns every trace view into noise."""
    if device_token(subject) is None:
        return subject
    parts = subject.split(".")
    parts[1 if parts[0] == "glasses" else 2] = "{device}"
    return ".".join(parts)


class _TemplatedNatsTelemetry(NatsTelemetrySettingsProvider):
    """faststream's NATS span settings with templated names; the device id
    moves into an attribute where it can be searched without exploding names."""

    def get_consume_destination_name(self, msg: Any) -> str:
        return subject_template(super().get_consume_destination_name(msg))

    def get_publish_destination_name(self, cmd: Any) -> str:
        return subject_template(cmd.destination)

    def get_consume_attrs_from_message(self, msg: Any) -> dict[str, Any]:
        return _with_device(super().get_consume_attrs_from_message(msg), msg.raw_message.subject)

    def get_publish_attrs_from_cmd(self, cmd: Any) -> dict[str, Any]:
        return _with_device(super().get_publish_attrs_from_cmd(cmd), cmd.destination)


def _with_device(attrs: dict[str, Any], subject: str) -> dict[str, Any]:
    device = device_token(subject)
    if device:
        attrs[DEVICE_ATTRIBUTE] = device
    return attrs


def _settings_provider(msg: Any) -> Any:
    base = telemetry_attributes_provider_factory(msg)
    return _TemplatedNatsTelemetry() if type(base) is NatsTelemetrySettingsProvider else base


def telemetry_middleware(tracer_provider: TracerProvider) -> TelemetryMiddleware:
    """The broker middleware that creates spans and carries context in headers."""
    return TelemetryMiddleware(settings_provider_factory=_settings_provider, tracer_provider=tracer_provider)

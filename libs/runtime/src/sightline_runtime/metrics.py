"""Prometheus metrics every service exports on /metrics.

Each service owns a CollectorRegistry (not the global one) so several
services can run in one test process without clashing. Labels never carry
a device id: a fleet of glasses must not explode the series count.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, GCCollector, Histogram, PlatformCollector, ProcessCollector

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ServiceMetrics:
    def __init__(self, service: str, *, registry: CollectorRegistry | None = None) -> None:
        self.service = service
        self.registry = registry or CollectorRegistry(auto_describe=True)
        for collector in (ProcessCollector, PlatformCollector, GCCollector):
            collector(registry=self.registry)
        self.info = Gauge(
            "sightline_service_info", "Constant 1, labelled with the service identity", ["service", "instance"], registry=self.registry
        )
        self.ready = Gauge("sightline_service_ready", "1 when the service is ready to handle events", ["service"], registry=self.registry)
        self.handled = Counter(
            "sightline_events_handled_total",
            "Events a handler finished with, by outcome (ok, rejected, retried, dead_lettered)",
            ["service", "handler", "outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "sightline_event_handle_seconds",
            "Time a handler spent on one event, including publishing its results",
            ["service", "handler"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.rejected = Counter(
            "sightline_events_rejected_total",
            "Events refused without processing, by reason (malformed, oversized, unknown_device, ...)",
            ["service", "handler", "reason"],
            registry=self.registry,
        )
        self.handler_errors = Counter(
            "sightline_handler_errors_total",
            "Exceptions raised by handlers, by exception type",
            ["service", "handler", "error"],
            registry=self.registry,
        )
        self.dead_letters = Counter(
            "sightline_dead_letters_total",
            "Events copied to the dead-letter stream",
            ["service", "handler"],
            registry=self.registry,
        )
        self.reports_suppressed = Counter(
            "sightline_error_reports_suppressed_total",
            "Refused core-NATS events counted but not dead-lettered (over the per-device report budget)",
            ["service", "handler"],
            registry=self.registry,
        )
        self.published = Counter(
            "sightline_events_published_total",
            "Events published, by protobuf type",
            ["service", "event_type"],
            registry=self.registry,
        )

    def mark_ready(self, ready: bool) -> None:
        self.ready.labels(self.service).set(1 if ready else 0)

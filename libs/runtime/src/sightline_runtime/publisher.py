"""Publishing events: protobuf bytes plus the standard headers. Trace
context is added by the broker's telemetry middleware."""

from __future__ import annotations

from google.protobuf.message import Message

from sightline_runtime.events import event_headers
from sightline_runtime.metrics import ServiceMetrics
from sightline_runtime.streams import StreamSpec


class EventPublisher:
    def __init__(self, broker, service: str, metrics: ServiceMetrics) -> None:
        self._broker = broker
        self._service = service
        self._metrics = metrics

    async def publish(
        self,
        subject: str,
        event: Message,
        *,
        stream: StreamSpec | None = None,
        headers: dict[str, str] | None = None,
        timeout_s: float = 5.0,
    ) -> None:
        """Publish on core NATS, or into `stream` (waiting for the ack, so
        an event is never reported sent before JetStream has stored it)."""
        all_headers = event_headers(event) | (headers or {})
        await self._broker.publish(
            event.SerializeToString(),
            subject,
            headers=all_headers,
            stream=stream.name if stream else None,
            timeout=timeout_s if stream else None,
        )
        self._metrics.published.labels(self._service, event.DESCRIPTOR.name).inc()

    async def publish_bytes(
        self, subject: str, body: bytes, *, headers: dict[str, str], stream: StreamSpec | None = None, timeout_s: float = 5.0
    ) -> None:
        """Publish a payload as it is (dead letters keep the original bytes)."""
        await self._broker.publish(
            body, subject, headers=headers, stream=stream.name if stream else None, timeout=timeout_s if stream else None
        )

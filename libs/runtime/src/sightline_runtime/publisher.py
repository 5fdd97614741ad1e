"""Publishing events: protobuf bytes plus the standard headers. Trace
context is added by the broker's telemetry middleware."""

from __future__ import annotations

import asyncio
import contextlib
import json

import nats.errors
from faststream.opentelemetry import TelemetryMiddleware
from google.protobuf.message import Message
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from sightline_runtime.events import event_headers
from sightline_runtime.metrics import ServiceMetrics
from sightline_runtime.streams import StreamSpec
from sightline_runtime.subjects import device_token
from sightline_runtime.telemetry import DEVICE_ATTRIBUTE, inject_headers, subject_template


class EventPublisher:
    def __init__(self, broker, service: str, metrics: ServiceMetrics, *, tracer_provider=None) -> None:
        self._broker = broker
        self._service = service
        self._metrics = metrics
        self._tracer = tracer_provider.get_tracer("sightline.publisher") if tracer_provider is not None else _broker_tracer(broker)

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
        connection = self._broker._connection
        if stream is None and connection is not None:
            await self._publish_core(connection, subject, event.SerializeToString(), all_headers)
        else:
            # JetStream (the PubAck is awaited), or faststream's TestNatsBroker (no connection).
            await self._broker.publish(
                event.SerializeToString(),
                subject,
                headers=all_headers,
                stream=stream.name if stream else None,
                timeout=timeout_s if stream else None,
            )
        self._metrics.published.labels(self._service, event.DESCRIPTOR.name).inc()

    async def _publish_core(self, connection, subject: str, body: bytes, headers: dict[str, str]) -> None:
        """Straight to nats-py: faststream's publish path (middlewares, command
        objects) cost ~0.2 ms a message. The spans are faststream's own pair,
        "<subject> create" (its context travels in the headers) and "<subject>
        publish", so a trace reads the same either way."""
        if self._tracer is None:
            inject_headers(headers)
            await connection.publish(subject, body, headers=headers)
            return
        name = subject_template(subject)
        attributes = {"messaging.system": "nats", "messaging.destination.name": name}
        device = device_token(subject)
        if device:
            attributes[DEVICE_ATTRIBUTE] = device
        create = self._tracer.start_span(f"{name} create", kind=SpanKind.PRODUCER, attributes=attributes)
        context = trace.set_span_in_context(create)
        inject_headers(headers, context)
        create.end()
        # Not made current: nothing runs inside it but the write to the socket buffer.
        publish = self._tracer.start_span(f"{name} publish", context=context, kind=SpanKind.PRODUCER, attributes=attributes)
        try:
            await connection.publish(subject, body, headers=headers)
        except Exception as err:
            publish.record_exception(err)
            publish.set_status(trace.Status(trace.StatusCode.ERROR, str(err)))
            raise
        finally:
            publish.end()

    async def publish_bytes(
        self, subject: str, body: bytes, *, headers: dict[str, str], stream: StreamSpec | None = None, timeout_s: float = 5.0
    ) -> None:
        """Publish a payload as it is (dead letters keep the original bytes)."""
        await self._broker.publish(
            body, subject, headers=headers, stream=stream.name if stream else None, timeout=timeout_s if stream else None
        )


class JetStreamWriteError(Exception):
    """JetStream refused a write (its PubAck carried an error) or did not answer in time."""


class JetStreamWriter:
    """JetStream publishes whose PubAck is awaited later, or not on the hot path.

    nats-py's `js.publish` is a request: the caller waits one round trip per
    write. Here the message goes out at once and a future resolves with its
    stream sequence when the PubAck arrives, so a caller can send several
    writes and await them together (or let the ack of a consumed message wait
    for them in the background). Writes on one connection reach the server in
    the order they were sent.
    """

    def __init__(self, nc, *, timeout_s: float = 5.0) -> None:
        self._nc = nc
        self._timeout_s = timeout_s
        self._pending: dict[bytes, asyncio.Future[int]] = {}
        self._prefix = ""
        self._sub = None
        self._next = 0

    async def start(self) -> JetStreamWriter:
        if self._sub is None:
            # Under the connection's own inbox prefix: the only replies its permissions let it read.
            self._prefix = self._nc.new_inbox()
            self._sub = await self._nc.subscribe(f"{self._prefix}.*", cb=self._on_ack)
        return self

    async def stop(self) -> None:
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
            self._sub = None
        for future in self._pending.values():
            if not future.done():
                future.set_exception(JetStreamWriteError("writer stopped before the PubAck arrived"))
        self._pending.clear()

    async def send(self, subject: str, payload: bytes, headers: dict[str, str] | None = None) -> None:
        """Send with no PubAck asked for. A stream stores what one connection
        sends in order, so the PubAck of a later write to the same stream
        (publish) also says this one was processed; send only what such a
        write follows, and what cannot fail where that one succeeds."""
        await self._nc.publish(subject, payload, headers=headers)

    async def publish(self, subject: str, payload: bytes, headers: dict[str, str] | None = None) -> asyncio.Future[int]:
        """Send now; the returned future resolves with the stream sequence."""
        if self._sub is None:
            raise RuntimeError("JetStreamWriter.start() was not awaited")
        self._next += 1
        token = str(self._next)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int] = loop.create_future()
        key = token.encode()
        self._pending[key] = future
        timer = loop.call_later(self._timeout_s, self._expire, key)
        future.add_done_callback(lambda _f: timer.cancel())
        try:
            await self._nc.publish(subject, payload, reply=f"{self._prefix}.{token}", headers=headers)
        except (nats.errors.Error, OSError) as err:
            self._pending.pop(key, None)
            future.set_exception(JetStreamWriteError(f"could not send to {subject}: {err}"))
        return future

    def _expire(self, key: bytes) -> None:
        future = self._pending.pop(key, None)
        if future is not None and not future.done():
            future.set_exception(JetStreamWriteError(f"no PubAck within {self._timeout_s} s"))

    async def _on_ack(self, msg) -> None:
        key = msg.subject.rsplit(".", 1)[-1].encode()
        future = self._pending.pop(key, None)
        if future is None or future.done():
            return  # expired already
        try:
            reply = json.loads(msg.data or b"{}")
        except ValueError:
            reply = {}
        error = reply.get("error") if isinstance(reply, dict) else None
        if error or not isinstance(reply, dict) or "seq" not in reply:
            status = (msg.headers or {}).get("Status", "")
            future.set_exception(JetStreamWriteError(f"JetStream refused the write: {error or status or msg.data[:200]!r}"))
            return
        future.set_result(int(reply["seq"]))


def _broker_tracer(broker):
    """The tracer of the broker's telemetry middleware (the service's tracer provider), if it has one."""
    for middleware in getattr(broker, "middlewares", ()) or ():
        if isinstance(middleware, TelemetryMiddleware):
            return middleware._tracer
    return None

"""Guarded event handlers: every message a service consumes goes through
here before its handler sees it.

The guard checks size, parses the protobuf, checks the event's device
against its subject and the registry, then calls the handler with a typed
event. Whatever cannot ever be processed is *rejected*: logged (rate
limited), counted, copied to the dead-letter stream with its headers,
reported as an ErrorEvent, and terminated in JetStream so it is never
redelivered. A handler that raises is retried with backoff and
dead-lettered on its last attempt, so nothing is dropped silently and no
message loops forever.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from faststream import ContextRepo
from faststream.exceptions import AckMessage, HandlerException, NackMessage, RejectMessage
from faststream.nats.annotations import NatsMessage
from google.protobuf.message import Message
from sightline.v1.common_pb2 import EventMeta
from sightline.v1.device_pb2 import AuditAction, DeviceRecord
from sightline.v1.errors_pb2 import ErrorCode, ErrorEvent

from sightline_runtime import privacy, subjects
from sightline_runtime.admission import Admission, DeviceRate
from sightline_runtime.audit import AuditLog
from sightline_runtime.codec import EventRejected, decode_event
from sightline_runtime.devices import DeviceDirectory, is_active
from sightline_runtime.events import HEADER_MSG_ID, new_event_id, now_timestamp
from sightline_runtime.inbox import ClaimState, Inbox, MemoryInbox
from sightline_runtime.logs import RateLimitedLog, WindowLimiter
from sightline_runtime.metrics import ServiceMetrics
from sightline_runtime.publisher import EventPublisher
from sightline_runtime.settings import LimitsSettings
from sightline_runtime.streams import DEAD_LETTERS, ERRORS, ConsumerSpec

log = logging.getLogger(__name__)

M = TypeVar("M", bound=Message)

DLQ_REASON = "Sightline-Dlq-Reason"
DLQ_SUBJECT = "Sightline-Dlq-Subject"
DLQ_ERROR = "Sightline-Dlq-Error"
DLQ_SERVICE = "Sightline-Dlq-Service"
DLQ_ATTEMPT = "Sightline-Dlq-Attempt"
DLQ_PAYLOAD_DROPPED = "Sightline-Dlq-Payload-Dropped"


@dataclass(frozen=True)
class HandlerSpec(Generic[M]):
    """How one handler is subscribed.

    consumer: a durable JetStream consumer, or None for core NATS (then
    `subject` is subscribed in the queue group `queue`, default the service
    name, so replicas share the load).
    """

    name: str
    message_type: type[M]
    subject: str = ""
    consumer: ConsumerSpec | None = None
    queue: str | None = None
    require_device: bool = True
    # False for raw audio: privacy forbids persisting it, even in a dead letter.
    keep_payload_in_dead_letter: bool = True
    # Handle a durable consumer's events strictly in stream order. faststream
    # runs a fetched batch concurrently, so ordered consumers fetch one at a
    # time; throughput then scales with replicas sharing the durable.
    ordered: bool = True
    max_workers: int = 1
    # Application-level dedup by event id (sightline_runtime.inbox): a copy of
    # an event this handler already handled is acknowledged without calling
    # it and counted with outcome "duplicate", however late it arrives.
    # Durable consumers only.
    dedup: bool = False
    # Camera or microphone data: dropped by the guard while the device's
    # privacy mode is on (sightline_runtime.privacy), with an audit record.
    sensor: privacy.Sensor | None = None
    # Called with a sensor event the guard dropped for privacy (e.g. delete a stored photo).
    on_privacy_drop: Callable[[Any, EventContext], Awaitable[None]] | None = None
    # Per-device admission, checked before decoding (sightline_runtime.admission):
    # over the rate, core-NATS messages are dropped, JetStream ones delayed or
    # refused, for that device alone.
    admission: DeviceRate | None = None

    @property
    def subscription_subject(self) -> str:
        return self.consumer.filter_subject if self.consumer else self.subject


@dataclass
class EventContext:
    """What a handler knows about the event besides its content."""

    subject: str
    device_id: str
    event_id: str
    headers: Mapping[str, str]
    delivery_attempt: int = 1
    device: DeviceRecord | None = None
    received_at: float = field(default_factory=time.time)


Handler = Callable[[M, EventContext], Awaitable[None]]


@dataclass(frozen=True)
class _Delivery:
    """One message as it arrived, before anything was trusted."""

    subject: str
    body: bytes
    headers: dict[str, str]
    attempt: int


def _delivery_attempt(raw: Any) -> int:
    reply = getattr(raw, "reply", "") or ""
    if reply.startswith("$JS.ACK."):
        return int(raw.metadata.num_delivered)
    return 1


def _is_jetstream(raw: Any) -> bool:
    return (getattr(raw, "reply", "") or "").startswith("$JS.ACK.")


def retry_delay_s(attempt: int) -> float:
    """0.5 s, 1 s, 2 s, ... capped at 30 s."""
    return min(30.0, 0.5 * 2 ** max(0, attempt - 1))


class EventGuard:
    def __init__(
        self,
        service: str,
        *,
        publisher: EventPublisher,
        metrics: ServiceMetrics,
        directory: DeviceDirectory,
        limits: LimitsSettings,
        inbox: Inbox | MemoryInbox | None = None,
    ) -> None:
        self.service = service
        self.publisher = publisher
        self.metrics = metrics
        self.directory = directory
        self.limits = limits
        self.limited_log = RateLimitedLog(log)
        # Dead letters and ErrorEvents for refused core-NATS messages, per handler, reason and device.
        self.core_reports = WindowLimiter(burst=5, interval_s=10.0)
        # Where handlers with dedup=True claim event ids (None: the service has none).
        self.inbox = inbox
        self.audit = AuditLog(publisher, service)
        # Microphone drops are audited once per device and privacy period, not per frame.
        self._audited_drops: dict[tuple[str, str, int], None] = {}
        self.admission = Admission(service, publisher=publisher, registry=metrics.registry, settings=limits)

    def wrap(self, spec: HandlerSpec[M], handler: Handler[M], context: ContextRepo) -> Callable[[], Awaitable[None]]:
        """The function faststream subscribes. It takes no parameters: an
        injected `msg: NatsMessage` is resolved by a sync dependency that
        fast_depends runs in a worker thread, four thread hops a message
        (~0.5 ms, measured); the context lookup is a dict read."""

        async def guarded() -> None:
            await self.handle(spec, handler, context.get_local("message"))

        guarded.__name__ = spec.name
        guarded.__qualname__ = spec.name
        guarded.__doc__ = handler.__doc__
        return guarded

    async def handle(self, spec: HandlerSpec[M], handler: Handler[M], msg: NatsMessage, *, admitted: bool = False) -> None:
        """`admitted`: the caller already ran admission (sightline_runtime.core does, before its span)."""
        # First, before any work: a device over its rate costs a lookup, not a decode.
        if spec.admission is not None and not admitted and not await self.admission.enforce(spec, msg):
            return
        raw = msg.raw_message
        subject: str = raw.subject
        body: bytes = msg.body if isinstance(msg.body, bytes) else bytes(msg.body)
        headers = dict(msg.headers or {})
        attempt = _delivery_attempt(raw)
        jetstream = _is_jetstream(raw)
        delivery = _Delivery(subject=subject, body=body, headers=headers, attempt=attempt)
        started = time.perf_counter()
        outcome = "ok"
        try:
            subject_device = subjects.device_token(subject)
            event = decode_event(spec.message_type, body, max_bytes=self.limits.max_event_bytes, subject_device=subject_device)
            meta = getattr(event, "meta", None)
            device_id = meta.device_id if meta is not None else (subject_device or "")
            record = None
            if spec.require_device:
                record = await self.directory.lookup(device_id)
                if not is_active(record):
                    state = "revoked" if record is not None else "not provisioned"
                    raise EventRejected(
                        ErrorCode.ERROR_CODE_UNKNOWN_DEVICE,
                        f"device {device_id!r} is {state}",
                        event_id=meta.event_id if meta is not None else "",
                        device_id=device_id,
                    )
            _check_source(subject, headers, device_id, meta)
            ctx = EventContext(
                subject=subject,
                device_id=device_id,
                event_id=meta.event_id if meta is not None else headers.get(HEADER_MSG_ID, ""),
                headers=headers,
                delivery_attempt=attempt,
                device=record,
            )
            outcome = await self._dispatch(spec, handler, event, ctx)
        except EventRejected as rejected:
            outcome = "rejected"
            await self._refuse(spec, delivery, rejected, jetstream=jetstream)
            if jetstream:
                raise RejectMessage() from None
        except HandlerException:
            # The handler chose ack / nack / reject itself.
            raise
        except Exception as err:
            self.metrics.handler_errors.labels(self.service, spec.name, type(err).__name__).inc()
            if jetstream and attempt < self.limits.max_deliver:
                outcome = "retried"
                log.warning(
                    "handler failed; will retry",
                    exc_info=True,
                    extra={
                        "handler": spec.name,
                        "subject": subject,
                        "attempt": attempt,
                        "max_deliver": self.limits.max_deliver,
                    },
                )
                raise NackMessage(delay=retry_delay_s(attempt)) from None
            outcome = "dead_lettered"
            log.error(
                "handler failed on its last attempt; dead-lettering the event",
                exc_info=True,
                extra={"handler": spec.name, "subject": subject, "attempt": attempt},
            )
            await self._dead_letter(
                spec,
                delivery,
                ErrorCode.ERROR_CODE_INTERNAL,
                f"{type(err).__name__}: {err}",
                event_id=headers.get(HEADER_MSG_ID, ""),
                device_id=subjects.device_token(subject) or "",
            )
            if jetstream:
                raise RejectMessage() from None
        finally:
            self.metrics.handled.labels(self.service, spec.name, outcome).inc()
            self.metrics.latency.labels(self.service, spec.name).observe(time.perf_counter() - started)

    async def _refuse(self, spec: HandlerSpec[Any], delivery: _Delivery, rejected: EventRejected, *, jetstream: bool) -> None:
        """Count, log (rate-limited) and report an event that can never be processed."""
        self.metrics.rejected.labels(self.service, spec.name, rejected.reason).inc()
        key = (spec.name, rejected.reason, rejected.device_id or delivery.subject)
        self.limited_log.log(
            logging.WARNING,
            key,
            f"rejected event: {rejected}",
            handler=spec.name,
            subject=delivery.subject,
            reason=rejected.reason,
            device_id=rejected.device_id,
            event_id=rejected.event_id,
            payload_size=len(delivery.body),
        )
        if jetstream or self.core_reports.allow(key)[0]:
            await self._dead_letter(spec, delivery, rejected.code, str(rejected), event_id=rejected.event_id, device_id=rejected.device_id)
        else:
            # Core NATS (live audio, partials): nothing of these is persisted anyway, so
            # a flood of garbage is counted, not written to JetStream twice a frame.
            self.metrics.reports_suppressed.labels(self.service, spec.name).inc()

    async def _dispatch(self, spec: HandlerSpec[M], handler: Handler[M], event: M, ctx: EventContext) -> str:
        """Run the handler (once, with dedup) unless privacy mode drops the event; returns the outcome."""
        meta = getattr(event, "meta", None)
        if spec.sensor is not None and privacy.blocks(ctx.device, meta.created_at if meta is not None else None):
            await self._privacy_drop(spec, event, ctx)
            return "privacy_dropped"
        if spec.dedup:
            return await self._handle_once(spec, handler, event, ctx)
        await handler(event, ctx)
        return "ok"

    async def _privacy_drop(self, spec: HandlerSpec[M], event: M, ctx: EventContext) -> None:
        """Privacy mode is on for this device: the data is not processed, only
        its drop is recorded (once per privacy period for the microphone)."""
        assert spec.sensor is not None
        if spec.on_privacy_drop is not None:
            await spec.on_privacy_drop(event, ctx)
        period = ctx.device.privacy.seq if ctx.device is not None else 0
        if spec.sensor is privacy.Sensor.MICROPHONE:
            key = (ctx.device_id, spec.name, period)
            if key in self._audited_drops:
                return
            if len(self._audited_drops) > 10_000:
                self._audited_drops.clear()
            self._audited_drops[key] = None
        await self.audit.record(
            ctx.device_id,
            AuditAction.AUDIT_ACTION_DATA_DROPPED_PRIVACY,
            reference_id=getattr(event, "photo_id", "") or getattr(event, "stream_id", "") or ctx.event_id,
            detail=f"{spec.sensor.value} data not processed by {self.service}: privacy mode",
            causation_id=ctx.event_id,
            dedup_key=f"drop:{self.service}:{spec.name}:{ctx.event_id}",
        )

    async def _handle_once(self, spec: HandlerSpec[M], handler: Handler[M], event: M, ctx: EventContext) -> str:
        """Run the handler unless the inbox says this event id was handled;
        returns the outcome ("ok" or "duplicate")."""
        if self.inbox is None:
            raise RuntimeError(f"handler {spec.name} has dedup=True but the service opened no inbox")
        meta = getattr(event, "meta", None)
        # The per-device sequence and the delivery count let a lease-holding inbox
        # recognise a first-time event without a KV round trip (sightline_runtime.inbox).
        claim = await self.inbox.claim(
            spec.name,
            ctx.event_id,
            device_id=ctx.device_id,
            seq=meta.seq if meta is not None else 0,
            redelivered=ctx.delivery_attempt > 1,
        )
        if claim.duplicate:
            log.info("duplicate event acknowledged unhandled", extra={"handler": spec.name, "event_id": ctx.event_id})
            return "duplicate"
        if claim.state is ClaimState.IN_PROGRESS:
            # Another copy is being handled right now; look again once it finished.
            raise NackMessage(delay=retry_delay_s(ctx.delivery_attempt))
        try:
            await handler(event, ctx)
        except AckMessage:
            await claim.done()
            raise
        except BaseException:
            # Refused or failed: free the id, so a retry or a later copy is judged afresh.
            await claim.release()
            raise
        await claim.done()
        return "ok"

    async def _dead_letter(
        self, spec: HandlerSpec[Any], delivery: _Delivery, code: int, message: str, *, event_id: str, device_id: str
    ) -> None:
        """Keep the payload and say why. If this fails the message is not
        terminated: it stays in JetStream and is delivered again later."""
        subject, body, headers, attempt = delivery.subject, delivery.body, delivery.headers, delivery.attempt
        digest = hashlib.sha256(body).digest()
        reason = ErrorCode.Name(code).removeprefix("ERROR_CODE_").lower()
        keep = spec.keep_payload_in_dead_letter and len(body) <= DEAD_LETTERS.max_msg_size - 4096
        dl_headers = {k: v for k, v in headers.items() if not k.startswith("Nats-")} | {
            HEADER_MSG_ID: f"dlq-{self.service}-{spec.name}-{event_id or digest.hex()}"[:200],
            DLQ_REASON: reason,
            DLQ_SUBJECT: subject,
            DLQ_ERROR: message[:1000],
            DLQ_SERVICE: self.service,
            DLQ_ATTEMPT: str(attempt),
        }
        if not keep:
            dl_headers[DLQ_PAYLOAD_DROPPED] = f"{len(body)} bytes, sha256 {digest.hex()}"
        error = ErrorEvent(
            meta=EventMeta(
                event_id=new_event_id(),
                device_id=device_id if subjects.DEVICE_ID_PATTERN.fullmatch(device_id or "") else "",
                created_at=now_timestamp(),
                producer=self.service,
                causation_id=event_id,
            ),
            service=self.service,
            handler=spec.name,
            subject=subject,
            code=code,
            message=message[:1000],
            failed_event_id=event_id,
            payload_size=len(body),
            payload_sha256=digest,
            delivery_attempt=attempt,
        )
        try:
            await self.publisher.publish_bytes(
                subjects.dead_letter(self.service, spec.name), body if keep else b"", headers=dl_headers, stream=DEAD_LETTERS
            )
            await self.publisher.publish(subjects.errors(self.service, device_id), error, stream=ERRORS)
        except Exception:
            log.exception("could not dead-letter an event; leaving it for redelivery", extra={"handler": spec.name, "subject": subject})
            raise NackMessage(delay=retry_delay_s(attempt)) from None
        self.metrics.dead_letters.labels(self.service, spec.name).inc()


# The hub writes this header on every message it sources: "<stream>[:<hash>] <seq> ...".
STREAM_SOURCE = "Nats-Stream-Source"


def _check_source(subject: str, headers: Mapping[str, str], device_id: str, meta: Any) -> None:
    """A message sourced from a device's edge outbox (UPLINK_<device>) must be
    about that device: a tampered edge could otherwise put another device's
    subjects into its outbox and have the hub store them."""
    source = headers.get(STREAM_SOURCE, "")
    stream = source.split(" ", 1)[0].split(":", 1)[0]
    if stream.startswith("UPLINK_") and stream.removeprefix("UPLINK_") != subjects.device_token(subject):
        raise EventRejected(
            ErrorCode.ERROR_CODE_FORBIDDEN,
            f"{subject} came from the up-link of another device ({stream})",
            event_id=meta.event_id if meta is not None else "",
            device_id=device_id,
        )


__all__ = ["AckMessage", "EventContext", "EventGuard", "Handler", "HandlerSpec", "NackMessage", "RejectMessage", "retry_delay_s"]

"""Per-device admission: one device cannot starve another.

A handler whose HandlerSpec carries `admission=DeviceRate(...)` admits each
device (the device token of the subject) at most `per_s` messages a second
with bursts of `burst`, checked by the EventGuard before anything else is
done with the message (no decode, no registry lookup): a flood must cost a
dictionary lookup per message, not a handler call.

Beyond the rate:
- core NATS (audio, partials; nothing is stored): the message is dropped;
- JetStream (inputs, photo notices): the message is delayed (nak with the
  delay after which the device's budget allows it; it keeps its place among
  the device's reservations), and refused with a dead letter when the device
  is so far over its rate that it would wait longer than `max_delay_s`;
  nothing is lost either way.
In every case a counter (sightline_admission_limited_total{service,handler,
action}, no device label), a warning log line and a RATE_LIMITED ErrorEvent to
the device, the last two at most once per device and handler per
`report_interval_s`, so that a flood does not become a flood of reports.

The limits are per replica: replicas sharing a subscription each admit a
device at the rate (a device's audio reaches one asr replica anyway).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from faststream.exceptions import NackMessage, RejectMessage
from prometheus_client import CollectorRegistry, Counter
from sightline.v1.common_pb2 import EventMeta
from sightline.v1.errors_pb2 import ErrorCode, ErrorEvent

from sightline_runtime import subjects
from sightline_runtime.events import HEADER_MSG_ID, new_event_id, now_timestamp
from sightline_runtime.logs import RateLimitedLog, WindowLimiter
from sightline_runtime.publisher import EventPublisher
from sightline_runtime.streams import DEAD_LETTERS, ERRORS

log = logging.getLogger(__name__)

# A number, or how to read it from the service's settings (so one declaration
# in the service's bus surface names the limit and the deployment tunes it).
Amount = float | Callable[[Any], float]


@dataclass(frozen=True)
class DeviceRate:
    """At most `per_s` messages a second per device, `burst` at once; 0 = no limit."""

    # What is being limited, as the device is told ("audio frames").
    what: str
    per_s: Amount
    burst: Amount

    def resolve(self, settings: Any) -> tuple[float, float]:
        per_s = float(self.per_s(settings) if callable(self.per_s) else self.per_s)
        burst = float(self.burst(settings) if callable(self.burst) else self.burst)
        if per_s < 0 or burst < 0:
            raise ValueError(f"admission of {self.what}: rate {per_s}/s and burst {burst} must not be negative")
        if per_s > 0 and burst < 1:
            raise ValueError(f"admission of {self.what}: a burst of {burst} admits nothing; use at least 1")
        return per_s, burst


# The up-link's rates, from LimitsSettings (SIGHTLINE_ADMISSION_*).
AUDIO_FRAMES = DeviceRate("audio frames", lambda s: s.admission_audio_per_s, lambda s: s.admission_audio_burst)
INPUTS = DeviceRate("inputs", lambda s: s.admission_input_per_s, lambda s: s.admission_input_burst)
PHOTO_NOTICES = DeviceRate("photo notices", lambda s: s.admission_photo_per_s, lambda s: s.admission_photo_burst)


class RateBuckets:
    """Token buckets per key, as one float each (the generic cell rate
    algorithm: `tat` is when the key's bucket would be full again).

    `admit` takes a token now or refuses. `reserve` also books a later slot,
    so messages over the rate are spread at the rate instead of all coming
    back at once. The least recently seen keys are forgotten past `max_keys`
    (a forgotten key starts with a full bucket; a flooding key is the most
    recently seen one, so it is never the one forgotten).
    """

    def __init__(self, per_s: float, burst: float, *, max_keys: int = 50_000) -> None:
        if per_s <= 0 or burst < 1:
            raise ValueError(f"a rate of {per_s}/s with a burst of {burst} admits nothing")
        self.interval = 1.0 / per_s
        # How far ahead of now the bucket may be booked and still admit: burst - 1 tokens.
        self.tolerance = (burst - 1.0) * self.interval
        self.max_keys = max_keys
        self._tat: OrderedDict[str, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._tat)

    def _get(self, key: str, now: float) -> float:
        tat = self._tat.get(key)
        if tat is None:
            if len(self._tat) >= self.max_keys:
                self._tat.popitem(last=False)
            return now
        self._tat.move_to_end(key)
        return max(tat, now)

    def admit(self, key: str, now: float) -> bool:
        tat = self._get(key, now)
        if tat - now > self.tolerance:
            self._tat[key] = tat
            return False
        self._tat[key] = tat + self.interval
        return True

    def reserve(self, key: str, now: float, max_wait_s: float) -> float | None:
        """0.0: admitted now; > 0: the wait after which the message is due (its
        slot is booked); None: it would wait over `max_wait_s` (nothing booked)."""
        tat = self._get(key, now)
        wait = tat - now - self.tolerance
        if wait <= 0.0:
            self._tat[key] = tat + self.interval
            return 0.0
        if wait > max_wait_s:
            self._tat[key] = tat
            return None
        self._tat[key] = tat + self.interval
        return wait


_COUNTERS: weakref.WeakKeyDictionary[CollectorRegistry, Counter] = weakref.WeakKeyDictionary()


def limited_counter(registry: CollectorRegistry) -> Counter:
    """sightline_admission_limited_total of a service's registry (one per
    registry, however many guards are built on it)."""
    counter = _COUNTERS.get(registry)
    if counter is None:
        counter = _COUNTERS[registry] = Counter(
            "sightline_admission_limited_total",
            "Messages over their device's admission rate, by action (dropped: core NATS; delayed, refused: JetStream)",
            ["service", "handler", "action"],
            registry=registry,
        )
    return counter


def _is_jetstream(raw: Any) -> bool:
    return (getattr(raw, "reply", "") or "").startswith("$JS.ACK.")


class Admission:
    """Applies the handlers' DeviceRates for one service (one per EventGuard)."""

    def __init__(
        self,
        service: str,
        *,
        publisher: EventPublisher,
        registry: CollectorRegistry,
        settings: Any,
    ) -> None:
        self.service = service
        self.publisher = publisher
        self.settings = settings
        self.max_delay_s = float(settings.admission_max_delay_s)
        self.max_devices = int(settings.admission_max_devices)
        interval = float(settings.admission_report_interval_s)
        self.reports = WindowLimiter(burst=1, interval_s=interval, max_keys=self.max_devices)
        self.limited_log = RateLimitedLog(log, burst=1, interval_s=interval, max_keys=self.max_devices)
        self.limited = limited_counter(registry)
        self._buckets: dict[str, RateBuckets | None] = {}
        self._counters: dict[tuple[str, str], Any] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def buckets(self, handler: str, rate: DeviceRate) -> RateBuckets | None:
        """The handler's buckets (None: its rate is 0, no limit)."""
        try:
            return self._buckets[handler]
        except KeyError:
            per_s, burst = rate.resolve(self.settings)
            buckets = RateBuckets(per_s, burst, max_keys=self.max_devices) if per_s > 0 else None
            self._buckets[handler] = buckets
            return buckets

    async def enforce(self, spec: Any, msg: Any) -> bool:
        """True: handle the message. False: it was dropped (core NATS).
        Raises NackMessage (delayed) or RejectMessage (refused, dead-lettered)."""
        raw = msg.raw_message
        subject: str = raw.subject
        device = subjects.device_token(subject)
        if device is None:
            return True  # not device-scoped: nothing to key on
        buckets = self.buckets(spec.name, spec.admission)
        if buckets is None:
            return True
        now = time.monotonic()
        if not _is_jetstream(raw):
            if buckets.admit(device, now):
                return True
            self._limited(spec, device, subject, raw, "dropped", f"dropped: {self._over(spec, buckets)}")
            return False
        if raw.metadata.num_delivered > 1:
            # Admitted on its first delivery (or booked a slot then, which is now due).
            return True
        # A nak spends a delivery, but every durable allows one more than the
        # handler's retry budget (ConsumerSpec.config), and the redelivery is admitted.
        wait = buckets.reserve(device, now, self.max_delay_s)
        if wait == 0.0:
            return True
        if wait is not None:
            self._limited(spec, device, subject, raw, "delayed", f"delayed {wait:.1f} s: {self._over(spec, buckets)}")
            raise NackMessage(delay=wait)
        detail = f"refused (would wait over {self.max_delay_s:.0f} s): {self._over(spec, buckets)}"
        await self._dead_letter(spec, subject, msg, device, detail)
        self._limited(spec, device, subject, raw, "refused", detail)
        raise RejectMessage()

    def _over(self, spec: Any, buckets: RateBuckets) -> str:
        burst = round(buckets.tolerance / buckets.interval + 1.0)
        return f"the device sends {spec.admission.what} faster than {1.0 / buckets.interval:g}/s (burst {burst})"

    def _limited(self, spec: Any, device: str, subject: str, raw: Any, action: str, detail: str) -> None:
        """Count; log and tell the device at most once per report interval."""
        counter = self._counters.get((spec.name, action))
        if counter is None:
            counter = self._counters[(spec.name, action)] = self.limited.labels(self.service, spec.name, action)
        counter.inc()
        key = (spec.name, device)
        allowed, held_back = self.reports.allow(key)
        if not allowed:
            return
        more = f" ({held_back} more since the last report)" if held_back else ""
        self.limited_log.log(
            logging.WARNING, key, f"device over its admission rate: {detail}", handler=spec.name, device_id=device, action=action
        )
        event_id = (raw.headers or {}).get(HEADER_MSG_ID, "")
        error = ErrorEvent(
            meta=EventMeta(
                event_id=new_event_id(), device_id=device, created_at=now_timestamp(), producer=self.service, causation_id=event_id
            ),
            service=self.service,
            handler=spec.name,
            subject=subject,
            code=ErrorCode.ERROR_CODE_RATE_LIMITED,
            message=f"{detail}{more}"[:1000],
            failed_event_id=event_id,
            payload_size=len(raw.data or b""),
        )
        # Not awaited: a slow JetStream must not stall the subscription that is shedding the flood.
        task = asyncio.create_task(self._report(subjects.errors(self.service, device), error))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _report(self, subject: str, error: ErrorEvent) -> None:
        try:
            await self.publisher.publish(subject, error, stream=ERRORS)
        except Exception:
            log.warning("could not publish a RATE_LIMITED error event", exc_info=True, extra={"subject": subject})

    async def _dead_letter(self, spec: Any, subject: str, msg: Any, device: str, detail: str) -> None:
        """Keep a refused JetStream message in the dead-letter stream (without
        a per-message ErrorEvent: those are rate-limited in _limited). If that
        fails the message is not terminated: it is delivered again later."""
        # consumer.py imports this module; its header names are read at call time.
        from sightline_runtime import consumer  # noqa: PLC0415

        raw = msg.raw_message
        body: bytes = raw.data or b""
        headers = dict(raw.headers or {})
        digest = hashlib.sha256(body).hexdigest()
        event_id = headers.get(HEADER_MSG_ID, "")
        keep = spec.keep_payload_in_dead_letter and len(body) <= DEAD_LETTERS.max_msg_size - 4096
        dl_headers = {k: v for k, v in headers.items() if not k.startswith("Nats-")} | {
            HEADER_MSG_ID: f"dlq-{self.service}-{spec.name}-{event_id or digest}"[:200],
            consumer.DLQ_REASON: "rate_limited",
            consumer.DLQ_SUBJECT: subject,
            consumer.DLQ_ERROR: detail[:1000],
            consumer.DLQ_SERVICE: self.service,
            consumer.DLQ_ATTEMPT: str(raw.metadata.num_delivered),
        }
        if not keep:
            dl_headers[consumer.DLQ_PAYLOAD_DROPPED] = f"{len(body)} bytes, sha256 {digest}"
        try:
            await self.publisher.publish_bytes(
                subjects.dead_letter(self.service, spec.name), body if keep else b"", headers=dl_headers, stream=DEAD_LETTERS
            )
        except Exception:
            log.warning("could not dead-letter a rate-limited event; leaving it for redelivery", exc_info=True, extra={"device_id": device})
            raise NackMessage(delay=self.max_delay_s) from None

"""Service presence: which instances are up, ready, and subscribed to what.

Every Service instance beats a ServicePresence on core NATS
`presence.<service>` every DEFAULT_INTERVAL_S (a few small messages a
second per instance: cheap), and once with ready=false when it shuts
down. A tracker listens and answers "does some live, ready instance take
subject S right now?" with NATS wildcard containment, so a consumer can tell
that nobody serves a device's audio partition (none running, all crashed, or
the partition's replica gone) instead of publishing into silence.

An instance that says ready=false stops serving at once; one whose beats
stop (killed, cut off) is expired after EXPIRY_INTERVALS of its own
interval. Times are the tracker's own monotonic clock at receipt, never the
sender's wall clock, so clock skew between hosts does not matter.

Why core NATS and not a KV bucket with a TTL: a beat is only worth anything
now, a KV write costs a JetStream round trip and storage per beat, and KV
TTLs expire in whole seconds; a missing beat is noticed within ~1.2 s here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import DecodeError
from google.protobuf.timestamp_pb2 import Timestamp
from sightline.v1.presence_pb2 import ServicePresence

from sightline_runtime.events import now_timestamp
from sightline_runtime.logs import RateLimitedLog
from sightline_runtime.subjects import DEVICE_ID_PATTERN, subject_matches

log = logging.getLogger(__name__)

PREFIX = "presence"
ALL = f"{PREFIX}.>"
# 2.5 small messages a second per instance. With EXPIRY_INTERVALS, a crash
# is noticed 0.8-1.2 s after it (where between two beats it fell), which
# leaves a consumer room to act within 2 s.
DEFAULT_INTERVAL_S = 0.4
# Missed beats before an instance counts as gone: one or two lost or late
# beats (a GC pause, a busy loop) must not make a service vanish.
EXPIRY_INTERVALS = 3.0
# Beats claiming absurd intervals are clamped: a tracker must expire a dead
# instance in bounded time, and a flood of beats is not a reason to expire sooner.
MIN_INTERVAL_S = 0.05
MAX_INTERVAL_S = 60.0
MAX_SUBJECTS = 1_000
MAX_SUBJECT_CHARS = 256
MAX_BEAT_BYTES = 64 * 1024

Readiness = Callable[[], Awaitable[Mapping[str, bool]]]


def presence_subject(service: str) -> str:
    return f"{PREFIX}.{_check_name(service, 'service')}"


def _check_name(name: str, what: str) -> str:
    # Service and instance names are subject-token safe, like device ids.
    if not DEVICE_ID_PATTERN.fullmatch(name):
        raise ValueError(f"invalid {what} name {name!r}: use 1-64 letters, digits, '-' or '_'")
    return name


def _seconds(ts: Timestamp) -> float:
    return ts.seconds + ts.nanos / 1e9


# --- announcing ---
class PresenceAnnouncer:
    """Beats one instance's presence until stopped.

    Readiness is evaluated in its own loop and beats carry the latest result,
    so a slow readiness check (a broker ping under load) delays nothing: the
    beat keeps its rhythm and only its content may lag.
    """

    def __init__(
        self,
        nc: Any,
        service: str,
        instance: str,
        readiness: Readiness,
        subjects: Callable[[], Iterable[str]],
        *,
        interval_s: float = DEFAULT_INTERVAL_S,
    ) -> None:
        if not MIN_INTERVAL_S <= interval_s <= MAX_INTERVAL_S:
            raise ValueError(f"presence interval {interval_s} s is outside {MIN_INTERVAL_S}..{MAX_INTERVAL_S} s")
        self._nc = nc
        self.service = service
        self.instance = instance
        self.subject = presence_subject(service)
        self._readiness = readiness
        self._subjects = subjects
        self.interval_s = interval_s
        self.started_at = now_timestamp()
        self._checks: dict[str, bool] | None = None
        self._evaluated = asyncio.Event()
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []
        self._limited_log = RateLimitedLog(log, burst=2, interval_s=60.0)
        self.beats_sent = 0

    def start(self) -> None:
        if self._tasks:
            return
        self._tasks = [
            asyncio.create_task(self._evaluate_forever(), name=f"{self.service}-presence-readiness"),
            asyncio.create_task(self._beat_forever(), name=f"{self.service}-presence"),
        ]

    async def stop(self) -> None:
        """Stop beating and say, once, that this instance no longer serves."""
        # The loops also check the flag: a readiness check (the broker's ping runs
        # in an anyio cancel scope) can swallow a cancellation, and a stop that
        # awaited such a task would hang the shutdown.
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            _, stuck = await asyncio.wait(self._tasks, timeout=2.0)
            if stuck:
                log.warning("presence loops did not stop in 2 s; leaving them", extra={"service": self.service})
        self._tasks = []
        await self._send(self.message(ready=False, not_ready=("stopping",)))
        with contextlib.suppress(Exception):
            # Out before the connection drains, so trackers drop us at once.
            await self._nc.flush(timeout=1)

    def message(self, *, ready: bool | None = None, not_ready: Sequence[str] | None = None) -> ServicePresence:
        checks = self._checks or {}
        failing = [name for name, ok in checks.items() if not ok] if not_ready is None else list(not_ready)
        if self._checks is None and not_ready is None:
            failing = ["starting"]
        beat = ServicePresence(
            service=self.service,
            instance=self.instance,
            ready=(not failing) if ready is None else ready,
            subjects=list(dict.fromkeys(self._subjects())),
            not_ready=failing,
            interval_ms=round(self.interval_s * 1000),
        )
        beat.created_at.CopyFrom(now_timestamp())
        beat.started_at.CopyFrom(self.started_at)
        return beat

    async def _evaluate_forever(self) -> None:
        while not self._stopping:
            try:
                self._checks = dict(await self._readiness())
            except Exception:  # noqa: BLE001 - any failing check means not ready, never a dead announcer
                self._limited_log.log(logging.WARNING, "readiness", "presence: readiness could not be evaluated", service=self.service)
                self._checks = {"readiness": False}
            self._evaluated.set()
            await asyncio.sleep(self.interval_s)

    async def _beat_forever(self) -> None:
        await self._evaluated.wait()  # the first beat already tells the truth
        while not self._stopping:
            await self._send(self.message())
            await asyncio.sleep(self.interval_s)

    async def _send(self, beat: ServicePresence) -> None:
        try:
            await self._nc.publish(self.subject, beat.SerializeToString())
            self.beats_sent += 1
        except Exception as err:  # noqa: BLE001 - nats-py raises several kinds; none may end the beat loop
            # Disconnected or closed: the next beat tries again; trackers expire us meanwhile, as they should.
            self._limited_log.log(logging.WARNING, "publish", f"presence beat not sent: {err!r}", service=self.service)


# --- tracking ---
@dataclass(frozen=True)
class Instance:
    service: str
    instance: str
    ready: bool
    subjects: tuple[str, ...]
    not_ready: tuple[str, ...]
    interval_s: float
    started_at: float  # the sender's wall clock, seconds (tells restarts apart)
    seen_at: float  # the tracker's clock at the last beat

    def expires_at(self, intervals: float) -> float:
        return self.seen_at + intervals * self.interval_s

    def takes(self, subject: str) -> bool:
        return any(subject_matches(subject, pattern) for pattern in self.subjects)


class PresenceTracker:
    """What is present, from the beats on `presence.<service>` of `services`
    (all services when None). Queries are cheap (no I/O): the state is local."""

    def __init__(
        self,
        nc: Any = None,
        *,
        services: Sequence[str] | None = None,
        expiry_intervals: float = EXPIRY_INTERVALS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._nc = nc
        self.services = tuple(_check_name(s, "service") for s in services) if services is not None else None
        self.expiry_intervals = expiry_intervals
        self._clock = clock
        self._instances: dict[tuple[str, str], Instance] = {}
        self._generation = 0
        # The earliest time an instance can expire, and the ready subjects per service (both caches).
        self._next_expiry = float("inf")
        self._patterns: dict[str | None, tuple[str, ...]] = {}
        self._subs: list[Any] = []
        self.started_at: float | None = None
        self.rejected = 0
        self._limited_log = RateLimitedLog(log)

    @property
    def subjects(self) -> tuple[str, ...]:
        return tuple(presence_subject(s) for s in self.services) if self.services is not None else (ALL,)

    async def start(self) -> PresenceTracker:
        if self._nc is None:
            raise RuntimeError("PresenceTracker.start needs a NATS connection")
        if not self._subs:

            async def on_beat(msg: Any) -> None:
                self.receive(msg.subject, msg.data)

            self._subs = [await self._nc.subscribe(subject, cb=on_beat) for subject in self.subjects]
            self.started_at = self._clock()
        return self

    async def stop(self) -> None:
        for sub in self._subs:
            with contextlib.suppress(Exception):  # the connection may be closed already
                await sub.unsubscribe()
        self._subs = []

    @property
    def settled(self) -> bool:
        """Listened long enough that an instance that is up has been heard:
        before that, "nobody serves" may only mean "not heard yet"."""
        if self.started_at is None:
            return False
        return self._clock() - self.started_at >= self.expiry_intervals * DEFAULT_INTERVAL_S

    # --- input ---
    def receive(self, subject: str, data: bytes) -> bool:
        """One beat as it arrived; returns whether what is served changed."""
        if len(data) > MAX_BEAT_BYTES:
            return self._reject(subject, f"beat of {len(data)} bytes is over {MAX_BEAT_BYTES}")
        beat = ServicePresence()
        try:
            beat.ParseFromString(data)
        except (DecodeError, RuntimeWarning, ValueError) as err:
            return self._reject(subject, f"not a ServicePresence: {err}")
        if subject != f"{PREFIX}.{beat.service}":
            return self._reject(subject, f"beat of service {beat.service[:64]!r} on {subject[:80]!r}")
        return self.observe(beat)

    def _reject(self, subject: str, why: str) -> bool:
        self.rejected += 1
        self._limited_log.log(logging.WARNING, ("rejected", subject), f"presence beat ignored: {why}", subject=subject[:120])
        return False

    def observe(self, beat: ServicePresence) -> bool:
        if not DEVICE_ID_PATTERN.fullmatch(beat.service) or not DEVICE_ID_PATTERN.fullmatch(beat.instance):
            return self._reject(f"{PREFIX}.{beat.service[:64]}", "service or instance is not a valid name")
        if len(beat.subjects) > MAX_SUBJECTS or any(len(s) > MAX_SUBJECT_CHARS for s in beat.subjects):
            return self._reject(f"{PREFIX}.{beat.service}", f"more than {MAX_SUBJECTS} subjects or one over {MAX_SUBJECT_CHARS} characters")
        interval = min(MAX_INTERVAL_S, max(MIN_INTERVAL_S, beat.interval_ms / 1000 or DEFAULT_INTERVAL_S))
        key = (beat.service, beat.instance)
        new = Instance(
            service=beat.service,
            instance=beat.instance,
            ready=beat.ready,
            subjects=tuple(beat.subjects),
            not_ready=tuple(beat.not_ready),
            interval_s=interval,
            started_at=_seconds(beat.started_at),
            seen_at=self._clock(),
        )
        old = self._instances.get(key)
        self._instances[key] = new
        self._next_expiry = min(self._next_expiry, new.expires_at(self.expiry_intervals))
        changed = old is None or (old.ready, old.subjects) != (new.ready, new.subjects)
        if changed:
            self._generation += 1
            self._patterns.clear()
            log.debug("presence changed", extra={"service": new.service, "instance": new.instance, "ready": new.ready})
        return changed

    def _expire(self) -> None:
        now = self._clock()
        if now <= self._next_expiry:
            return  # nobody can have expired yet: queries stay O(1) between beats
        gone = [self._instances.pop(key) for key, inst in list(self._instances.items()) if now > inst.expires_at(self.expiry_intervals)]
        self._next_expiry = min((i.expires_at(self.expiry_intervals) for i in self._instances.values()), default=float("inf"))
        for inst in gone:
            if inst.ready:
                self._generation += 1
                self._patterns.clear()
                log.info(
                    "presence: instance stopped beating; counted as gone",
                    extra={"service": inst.service, "instance": inst.instance, "silent_s": round(now - inst.seen_at, 2)},
                )

    # --- queries ---
    @property
    def generation(self) -> int:
        """Changes whenever an answer of serves() may have changed (poll it
        and re-ask only then)."""
        self._expire()
        return self._generation

    def instances(self, service: str | None = None) -> list[Instance]:
        """Instances heard from recently (ready or not), by service and name."""
        self._expire()
        chosen = [i for i in self._instances.values() if service is None or i.service == service]
        return sorted(chosen, key=lambda i: (i.service, i.instance))

    def serving(self, subject: str, *, service: str | None = None) -> list[Instance]:
        """Live, ready instances subscribed to a subject that contains `subject`."""
        return [i for i in self.instances(service) if i.ready and i.takes(subject)]

    def serves(self, subject: str, *, service: str | None = None) -> bool:
        self._expire()
        patterns = self._patterns.get(service)
        if patterns is None:
            # What the ready instances of `service` take, once per generation
            # (a transition re-asks for every active device).
            ready = (i for i in self._instances.values() if i.ready and (service is None or i.service == service))
            patterns = self._patterns[service] = tuple(dict.fromkeys(p for i in ready for p in i.subjects))
        return any(subject_matches(subject, pattern) for pattern in patterns)

    def why_not(self, subject: str, *, service: str | None = None) -> str:
        """Why nobody serves `subject`, in words (empty when someone does)."""
        if self.serves(subject, service=service):
            return ""
        who = service or "any service"
        present = self.instances(service)
        if not present:
            return f"no {who} instance is running"
        takers = [i for i in present if i.takes(subject)]
        if not takers:
            names = ", ".join(i.instance for i in present)
            return f"no {who} instance takes {subject} ({names} run without it)"
        return "; ".join(f"{i.instance} is not ready ({', '.join(i.not_ready) or 'no reason given'})" for i in takers)

    async def wait_serving(self, subject: str, *, service: str | None = None, timeout_s: float = 30.0, poll_s: float = 0.05) -> bool:
        """Wait until some ready instance serves `subject`; False on timeout."""
        deadline = self._clock() + timeout_s
        while not self.serves(subject, service=service):
            if self._clock() >= deadline:
                return False
            await asyncio.sleep(poll_s)
        return True

"""Application-level dedup: an inbox of the event ids a service has handled.

JetStream drops a re-published event only within its duplicate window (2
minutes by default); glasses that were offline longer, or re-send after a
crash, can deliver an event again later. A handler subscribed with
HandlerSpec(dedup=True) claims the event id in a JetStream KV bucket
(`inbox_<service>`, one key per handler and event) before it runs:

- `create` succeeds once per key, so one delivery wins the claim;
- a finished claim is marked done, so a later copy is acknowledged and
  counted as a duplicate without calling the handler;
- a claim whose handler failed is released, so the retry can claim again;
- a claim whose process died is taken over after `lease_s` (compare-and-set
  on the revision), so a crash never wedges an event.

Keys expire with the bucket's TTL (days), which bounds its size.

That is two awaited KV round trips per event. A handler whose durable is
consumed under a ConsumerLease (one replica at a time, see pull.py) skips
both in the common case, with a per-device sequence watermark:

- events carry a per-device sequence (EventMeta.seq, monotonic per producer);
  the lease holder keeps, per device, the highest sequence it or any earlier
  holder handled (`<handler>.wm.<device>`, loaded once per device and lease);
- an event delivered for the first time whose sequence is above the
  watermark cannot have been handled before: it runs with no KV read;
- its done mark and the new watermark are written without waiting, and the
  message is acknowledged only once both are stored (pull.defer_ack), in the
  background: a crash before that redelivers it, and the copy is recognised;
- everything else (a redelivery, a sequence at or below the watermark, an
  event without a sequence, a device with no watermark yet, no lease) takes
  the claim protocol above, which is right whatever the order.
So a late duplicate (re-published after the JetStream window, new stream
sequence, same meta) is at or below the watermark and meets its done mark;
a second producer whose sequence runs behind is only slower, never dropped.

What it relies on, besides the claim protocol's own assumptions:
- every replica of the handler consumes under the lease: replicas of an older
  release (claims only, no lease) must be gone before leased ones start, or a
  copy could run on both at once (roll such a change out with Recreate);
- the watermark covers events handled since it exists: a late copy of an
  event handled before watermarks were kept, from a producer whose sequence
  ran backwards since, is not caught (monotonic producers: always caught);
- a holder stalled past its lease (0.8 * lease_s without a renewal) may still
  finish the event in hand while its successor starts, as a claim past
  lease_s may today.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import hashlib
import json
import logging
import re
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field

from nats.js.client import JetStreamContext
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError

from sightline_runtime.publisher import JetStreamWriter
from sightline_runtime.pull import defer_ack
from sightline_runtime.streams import ensure_bucket, inbox_bucket
from sightline_runtime.subjects import DEVICE_ID_PATTERN

log = logging.getLogger(__name__)

# Event ids usually are uuid hex; anything else is hashed into a valid KV key.
_PLAIN_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_DONE = "done"
_CLAIMED = "claimed"
# Handled event ids a lease holder remembers (a redelivery or a copy is known without KV).
RECENT_IDS = 50_000


class ClaimState(enum.Enum):
    CLAIMED = "claimed"  # this delivery runs the handler
    DUPLICATE = "duplicate"  # already handled: acknowledge, do not run
    IN_PROGRESS = "in_progress"  # another delivery holds a live claim: retry later


@dataclass
class Claim:
    inbox: Inbox | None
    key: str
    state: ClaimState
    revision: int = 0
    # Set by Inbox.claim: what the done mark needs to move the device's watermark.
    handler: str = ""
    event_id: str = ""
    device_id: str = ""
    seq: int = 0
    # Claimed from the watermark, with no KV record yet (lease holder only).
    fast: bool = False

    @property
    def duplicate(self) -> bool:
        return self.state is ClaimState.DUPLICATE

    async def done(self) -> None:
        """Record the event as handled (after the handler succeeded)."""
        if self.inbox is not None and self.state is ClaimState.CLAIMED:
            await self.inbox.finish(self)

    async def release(self) -> None:
        """Give the claim back (the handler failed and will be retried)."""
        if self.inbox is not None and self.state is ClaimState.CLAIMED:
            await self.inbox.release(self)


@dataclass
class _Watermarks:
    """What a lease holder knows for one handler during one holding of its lease."""

    epoch: int
    # device -> highest handled sequence; None: the device has no watermark in KV yet.
    marks: dict[str, int | None] = field(default_factory=dict)
    recent: OrderedDict[str, None] = field(default_factory=OrderedDict)
    in_flight: set[str] = field(default_factory=set)
    # Handled, but the done mark's write failed: written again when the copy comes back.
    unrecorded: set[str] = field(default_factory=set)

    def remember(self, event_id: str) -> None:
        self.recent[event_id] = None
        if len(self.recent) > RECENT_IDS:
            self.recent.popitem(last=False)


class Inbox:
    def __init__(self, kv, service: str, *, lease_s: float, instance: str = "", writer: JetStreamWriter | None = None) -> None:
        self._kv = kv
        self.service = service
        self.lease_s = lease_s
        self.instance = instance
        self._writer = writer
        self._leases: dict[str, ConsumerLease] = {}
        self._watermarks: dict[str, _Watermarks] = {}
        # How claims were decided: "watermark" (no KV), "memory" (a copy this holder handled), "kv" (the claim protocol).
        self.decisions: dict[str, int] = {"watermark": 0, "memory": 0, "kv": 0, "watermark_loads": 0}

    @classmethod
    async def open(
        cls, js: JetStreamContext, service: str, *, ttl_s: float, lease_s: float, replicas: int = 1, instance: str = ""
    ) -> Inbox:
        kv = await ensure_bucket(js, inbox_bucket(service, ttl_s=ttl_s), replicas=replicas)
        return cls(kv, service, lease_s=lease_s, instance=instance, writer=await JetStreamWriter(js._nc).start())

    async def close(self) -> None:
        if self._writer is not None:
            await self._writer.stop()

    @staticmethod
    def key(handler: str, event_id: str) -> str:
        token = event_id if _PLAIN_ID.fullmatch(event_id) else "sha256-" + hashlib.sha256(event_id.encode()).hexdigest()
        return f"{handler}.{token}"

    @staticmethod
    def watermark_key(handler: str, device_id: str) -> str:
        return f"{handler}.wm.{device_id}"

    def _value(self, state: str, **extra: object) -> bytes:
        return json.dumps({"state": state, "at": time.time(), "by": self.instance, **extra}).encode()

    def lease(self, handler: str, *, lease_s: float = 6.0) -> ConsumerLease:
        """The lease under which `handler`'s durable is consumed by one replica
        at a time (give it to pull.PullConsumer); while it is held, this inbox
        recognises duplicates from the watermark instead of KV round trips."""
        if self._writer is None:
            raise RuntimeError("an inbox without a JetStreamWriter cannot keep watermarks (use Inbox.open)")
        if handler not in self._leases:
            self._leases[handler] = ConsumerLease(self._kv, handler, owner=f"{self.instance}/{uuid.uuid4().hex[:12]}", lease_s=lease_s)
        return self._leases[handler]

    def _held(self, handler: str) -> _Watermarks | None:
        lease = self._leases.get(handler)
        if lease is None or not lease.held:
            return None
        marks = self._watermarks.get(handler)
        if marks is None or marks.epoch != lease.epoch:
            # A new holding: whatever another holder did meanwhile is only in KV.
            marks = self._watermarks[handler] = _Watermarks(lease.epoch)
        return marks

    async def _watermark(self, marks: _Watermarks, handler: str, device_id: str) -> int | None:
        if device_id not in marks.marks:
            self.decisions["watermark_loads"] += 1
            try:
                entry = await self._kv.get(self.watermark_key(handler, device_id))
                seq = _parse(entry.value).get("seq")
                marks.marks[device_id] = int(seq) if isinstance(seq, int) else None
            except KeyNotFoundError:
                marks.marks[device_id] = None
        return marks.marks[device_id]

    async def claim(self, handler: str, event_id: str, *, device_id: str = "", seq: int = 0, redelivered: bool = True) -> Claim:
        """Claim the event for this delivery. `seq` is the event's per-device
        sequence (EventMeta.seq, 0 if none) and `redelivered` whether
        JetStream delivered this message before."""
        key = self.key(handler, event_id)
        marks = self._held(handler)
        if marks is not None:
            if event_id in marks.in_flight:
                return Claim(self, key, ClaimState.IN_PROGRESS, handler=handler, event_id=event_id)
            if event_id in marks.recent:
                self.decisions["memory"] += 1
                if event_id in marks.unrecorded:
                    await self._record(
                        Claim(self, key, ClaimState.CLAIMED, handler=handler, event_id=event_id, device_id=device_id, seq=seq)
                    )
                return Claim(self, key, ClaimState.DUPLICATE, handler=handler, event_id=event_id)
            if seq > 0 and not redelivered and DEVICE_ID_PATTERN.fullmatch(device_id):
                watermark = await self._watermark(marks, handler, device_id)
                if watermark is not None and seq > watermark:
                    marks.in_flight.add(event_id)
                    self.decisions["watermark"] += 1
                    return Claim(self, key, ClaimState.CLAIMED, handler=handler, event_id=event_id, device_id=device_id, seq=seq, fast=True)
        self.decisions["kv"] += 1
        claim = await self._claim_in_kv(key)
        claim.handler, claim.event_id, claim.device_id, claim.seq = handler, event_id, device_id, seq
        return claim

    async def _claim_in_kv(self, key: str) -> Claim:
        for _ in range(3):
            try:
                revision = await self._kv.create(key, self._value(_CLAIMED))
                return Claim(self, key, ClaimState.CLAIMED, revision)
            except KeyWrongLastSequenceError:
                pass
            try:
                entry = await self._kv.get(key)
            except KeyNotFoundError:
                continue  # released or expired between our two calls: claim again
            record = _parse(entry.value)
            if record.get("state") == _DONE:
                return Claim(self, key, ClaimState.DUPLICATE, entry.revision)
            if time.time() - float(record.get("at", 0)) < self.lease_s:
                return Claim(self, key, ClaimState.IN_PROGRESS, entry.revision)
            # The claimant died mid-handler: take the claim over, unless someone else just did.
            try:
                revision = await self._kv.update(key, self._value(_CLAIMED), last=entry.revision)
            except KeyWrongLastSequenceError:
                return Claim(self, key, ClaimState.IN_PROGRESS, entry.revision)
            log.warning("took over an abandoned inbox claim", extra={"key": key, "service": self.service})
            return Claim(self, key, ClaimState.CLAIMED, revision)
        return Claim(self, key, ClaimState.IN_PROGRESS)

    async def finish(self, claim: Claim) -> None:
        marks = self._held(claim.handler) if claim.handler else None
        if claim.fast or marks is not None:
            await self._record(claim)
            return
        try:
            claim.revision = await self._kv.update(claim.key, self._value(_DONE), last=claim.revision)
        except KeyWrongLastSequenceError:
            # Our lease ran out and another delivery took over; the event was
            # handled either way, so record it as done regardless.
            claim.revision = await self._kv.put(claim.key, self._value(_DONE))

    async def _record(self, claim: Claim) -> None:
        """Watermark and done mark, sent at once; the message's ack waits for
        them (pull.defer_ack), or this does when not under a pull loop."""
        assert self._writer is not None
        marks = self._watermarks.get(claim.handler)
        if marks is not None:
            marks.in_flight.discard(claim.event_id)
            marks.remember(claim.event_id)
            marks.unrecorded.discard(claim.event_id)
            if claim.seq > 0 and DEVICE_ID_PATTERN.fullmatch(claim.device_id):
                # Monotonic in the order sent, and one connection keeps that order: the stored value is the maximum.
                watermark = max(marks.marks.get(claim.device_id) or 0, claim.seq)
                marks.marks[claim.device_id] = watermark
                # No PubAck of its own: the done mark's, right behind it in the same stream, covers it.
                key = self.watermark_key(claim.handler, claim.device_id)
                await self._writer.send(self._kv._pre + key, self._value(_DONE, seq=watermark))
        stored = await self._writer.publish(self._kv._pre + claim.key, self._value(_DONE, seq=claim.seq, device=claim.device_id))
        if marks is not None:
            stored.add_done_callback(lambda f, m=marks, e=claim.event_id: _note_failure(f, m, e))
        if not defer_ack(stored):
            await stored

    async def release(self, claim: Claim) -> None:
        marks = self._watermarks.get(claim.handler)
        if marks is not None:
            marks.in_flight.discard(claim.event_id)
        if claim.fast:
            return  # nothing was written
        # Best effort: if this fails the claim simply expires after lease_s.
        with contextlib.suppress(Exception):
            await self._kv.delete(claim.key, last=claim.revision)

    async def seen(self, handler: str, event_id: str) -> bool:
        """Whether the event was handled (for tests and tooling)."""
        try:
            entry = await self._kv.get(self.key(handler, event_id))
        except KeyNotFoundError:
            return False
        return _parse(entry.value).get("state") == _DONE


def _note_failure(stored: asyncio.Future, marks: _Watermarks, event_id: str) -> None:
    if stored.cancelled() or stored.exception() is not None:
        marks.unrecorded.add(event_id)
        log.error("inbox done mark not stored; it is written again when the event is redelivered", extra={"event_id": event_id})


class ConsumerLease:
    """One replica at a time holds it (a KV key with compare-and-set).

    The holder renews it every lease_s/4 and treats it as lost 0.8 * lease_s
    after the last renewal it sent, before anyone else may take it over (an
    unrenewed lease is free once its holder's timestamp is lease_s old), so
    two holders never overlap while clocks agree within 0.2 * lease_s.
    stop() deletes it, so a successor takes over at its next try rather than
    after lease_s.
    """

    def __init__(self, kv, handler: str, *, owner: str, lease_s: float = 6.0) -> None:
        self._kv = kv
        self.key = f"{handler}.lease.consumer"
        self.owner = owner
        self.lease_s = lease_s
        self.epoch = 0
        self._revision = 0
        self._valid_until = 0.0
        self._held_event = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def held(self) -> bool:
        if self._valid_until > time.monotonic():
            return True
        self._held_event.clear()
        return False

    async def wait_held(self) -> None:
        while not self.held:
            self._held_event.clear()
            await self._held_event.wait()

    async def start(self) -> None:
        if self._task is None:
            await self._try_acquire()
            self._task = asyncio.create_task(self._run(), name=f"lease-{self.key}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.held:
            self._valid_until = 0.0
            self._held_event.clear()
            with contextlib.suppress(Exception):
                await self._kv.delete(self.key, last=self._revision)

    def _value(self) -> bytes:
        return json.dumps({"by": self.owner, "at": time.time()}).encode()

    def _granted(self, revision: int, sent_at: float) -> None:
        if not self.held:
            self.epoch += 1
            log.info("consumer lease acquired", extra={"key": self.key, "owner": self.owner, "epoch": self.epoch})
        self._revision = revision
        self._valid_until = sent_at + 0.8 * self.lease_s
        self._held_event.set()

    async def _try_acquire(self) -> None:
        sent_at = time.monotonic()
        try:
            self._granted(await self._kv.create(self.key, self._value()), sent_at)
            return
        except KeyWrongLastSequenceError:
            pass
        try:
            entry = await self._kv.get(self.key)
        except KeyNotFoundError:
            return  # released meanwhile: the next try creates it
        record = _parse(entry.value)
        if time.time() - float(record.get("at", 0)) <= self.lease_s:
            return
        with contextlib.suppress(KeyWrongLastSequenceError):
            sent_at = time.monotonic()
            self._granted(await self._kv.update(self.key, self._value(), last=entry.revision), sent_at)
            log.warning("took over an expired consumer lease", extra={"key": self.key, "previous": record.get("by")})

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.lease_s / 4)
            try:
                if self.held:
                    sent_at = time.monotonic()
                    try:
                        self._granted(await self._kv.update(self.key, self._value(), last=self._revision), sent_at)
                    except KeyWrongLastSequenceError:
                        self._valid_until = 0.0
                        self._held_event.clear()
                        log.warning("consumer lease lost to another replica", extra={"key": self.key, "owner": self.owner})
                else:
                    await self._try_acquire()
            except Exception:
                # NATS unreachable for now: the lease lapses by itself; keep trying.
                log.warning("consumer lease renewal failed", exc_info=True, extra={"key": self.key})


def _parse(value: bytes | None) -> dict:
    try:
        record = json.loads(value or b"{}")
    except ValueError:
        return {}
    return record if isinstance(record, dict) else {}


class MemoryInbox:
    """The same claim rules in a dict, for unit tests with TestNatsBroker
    (no JetStream there); services use the KV-backed Inbox."""

    def __init__(self) -> None:
        self._states: dict[str, str] = {}

    async def claim(self, handler: str, event_id: str, **_delivery: object) -> Claim:
        key = Inbox.key(handler, event_id)
        state = self._states.get(key)
        if state == _DONE:
            return Claim(self, key, ClaimState.DUPLICATE)  # type: ignore[arg-type]
        if state == _CLAIMED:
            return Claim(self, key, ClaimState.IN_PROGRESS)  # type: ignore[arg-type]
        self._states[key] = _CLAIMED
        return Claim(self, key, ClaimState.CLAIMED)  # type: ignore[arg-type]

    async def finish(self, claim: Claim) -> None:
        self._states[claim.key] = _DONE

    async def release(self, claim: Claim) -> None:
        self._states.pop(claim.key, None)

    async def seen(self, handler: str, event_id: str) -> bool:
        return self._states.get(Inbox.key(handler, event_id)) == _DONE

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
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
import json
import logging
import re
import time
from dataclasses import dataclass

from nats.js.client import JetStreamContext
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError

from sightline_runtime.streams import ensure_bucket, inbox_bucket

log = logging.getLogger(__name__)

# Event ids usually are uuid hex; anything else is hashed into a valid KV key.
_PLAIN_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_DONE = "done"
_CLAIMED = "claimed"


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


class Inbox:
    def __init__(self, kv, service: str, *, lease_s: float, instance: str = "") -> None:
        self._kv = kv
        self.service = service
        self.lease_s = lease_s
        self.instance = instance

    @classmethod
    async def open(
        cls, js: JetStreamContext, service: str, *, ttl_s: float, lease_s: float, replicas: int = 1, instance: str = ""
    ) -> Inbox:
        kv = await ensure_bucket(js, inbox_bucket(service, ttl_s=ttl_s), replicas=replicas)
        return cls(kv, service, lease_s=lease_s, instance=instance)

    @staticmethod
    def key(handler: str, event_id: str) -> str:
        token = event_id if _PLAIN_ID.fullmatch(event_id) else "sha256-" + hashlib.sha256(event_id.encode()).hexdigest()
        return f"{handler}.{token}"

    def _value(self, state: str) -> bytes:
        return json.dumps({"state": state, "at": time.time(), "by": self.instance}).encode()

    async def claim(self, handler: str, event_id: str) -> Claim:
        key = self.key(handler, event_id)
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
        try:
            claim.revision = await self._kv.update(claim.key, self._value(_DONE), last=claim.revision)
        except KeyWrongLastSequenceError:
            # Our lease ran out and another delivery took over; the event was
            # handled either way, so record it as done regardless.
            claim.revision = await self._kv.put(claim.key, self._value(_DONE))

    async def release(self, claim: Claim) -> None:
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

    async def claim(self, handler: str, event_id: str) -> Claim:
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

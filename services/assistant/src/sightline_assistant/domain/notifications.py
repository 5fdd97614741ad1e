"""Notifications from integrations (a phone companion, a server): what is
accepted, what is a repeat, how fast a source may push, and whether the
wearer sees it now.

- Validation: a title (one line) and an optional body, each within its
  limit. Text over a limit is refused with an error that says how long it
  is and what the limit is, never cut: the sender still has it and can
  shorten or split it, and nothing reaches the wearer half-said.
- Duplicates: a repeat of (device, source, dedup_key) within the dedup
  window is DUPLICATE and answered with the first one's id (a sender that
  retries gets the same answer). Per device, because one server may send
  the same key to several wearers.
- Rate: each source (the API key's name) has a token bucket; a repeat is
  answered before the bucket is asked, so retries cost nothing.
- Delivery: do-not-disturb, privacy mode or navigation hold everything but
  URGENT (HELD: kept unread, not shown); otherwise SHOWN.
- Unread: the latest notifications of each device (bounded), for "read my
  notifications" and the briefing.

No clock of its own (`clock` is injected, seconds, monotonic or not) and
no I/O: the state lives in memory, per replica.
"""

from __future__ import annotations

import math
import unicodedata
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from sightline.v1.assistant_pb2 import NotificationDelivery, NotificationPriority
from sightline_runtime.admission import RateBuckets

SHOWN = NotificationDelivery.NOTIFICATION_DELIVERY_SHOWN
HELD = NotificationDelivery.NOTIFICATION_DELIVERY_HELD
DUPLICATE = NotificationDelivery.NOTIFICATION_DELIVERY_DUPLICATE

LOW = NotificationPriority.NOTIFICATION_PRIORITY_LOW
NORMAL = NotificationPriority.NOTIFICATION_PRIORITY_NORMAL
URGENT = NotificationPriority.NOTIFICATION_PRIORITY_URGENT

# Line breaks and tabs are layout; other control characters are refused (they
# would be invisible on the HUD, or worse, in a log line).
_ALLOWED_CONTROLS = {"\n", "\t"}


class NotificationInvalid(ValueError):
    """The notification cannot be accepted as sent; the message says why."""


class NotificationTooLarge(NotificationInvalid):
    """A field is over its limit (refused whole, nothing was cut)."""


class RateLimited(Exception):
    def __init__(self, source: str, retry_after_s: float) -> None:
        super().__init__(f"source {source!r} pushes faster than its rate allows; retry in {retry_after_s:g} s")
        self.source = source
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class NotificationLimits:
    title_max_chars: int = 120
    # A HUD card shows a few lines; the rest is read out or paged, so a long
    # message is fine, a document is not.
    body_max_chars: int = 2000
    dedup_key_max_chars: int = 128
    # A repeat of a source's dedup key within this window is a duplicate.
    dedup_window_s: float = 600.0
    # Per source: a sustained rate and a burst (token bucket).
    source_per_s: float = 1.0
    source_burst: float = 20.0
    # The unread notifications kept per device (the oldest go first).
    unread_per_device: int = 50
    # Bounds of the in-memory state (the least recently used go first).
    max_devices: int = 10_000
    max_dedup_entries: int = 100_000

    def __post_init__(self) -> None:
        if min(self.title_max_chars, self.body_max_chars, self.dedup_key_max_chars, self.unread_per_device) < 1:
            raise ValueError("notification limits must be at least 1")
        if self.dedup_window_s < 0:
            raise ValueError("the dedup window must not be negative")
        RateBuckets(self.source_per_s, self.source_burst)  # refuses a rate that admits nothing


@dataclass(frozen=True)
class Incoming:
    """A validated notification, as the wearer would see it."""

    title: str
    body: str
    priority: int
    dedup_key: str = ""


def _check_text(name: str, value: str, limit: int, *, multiline: bool) -> str:
    text = value.strip()
    for char in text:
        if unicodedata.category(char) == "Cc" and not (multiline and char in _ALLOWED_CONTROLS):
            where = "" if multiline else " (one line: no line breaks)"
            raise NotificationInvalid(f"{name} contains the control character U+{ord(char):04X}{where}")
    if len(text) > limit:
        raise NotificationTooLarge(
            f"{name} has {len(text)} characters, at most {limit} are accepted: shorten it or split it (nothing was delivered)"
        )
    return text


def validate(title: str, body: str, priority: int, dedup_key: str, limits: NotificationLimits) -> Incoming:
    """An Incoming, or NotificationInvalid / NotificationTooLarge saying what is wrong."""
    clean_title = _check_text("title", title, limits.title_max_chars, multiline=False)
    if not clean_title:
        raise NotificationInvalid("title is required")
    clean_body = _check_text("body", body, limits.body_max_chars, multiline=True)
    key = _check_text("dedup_key", dedup_key, limits.dedup_key_max_chars, multiline=False)
    if priority == NotificationPriority.NOTIFICATION_PRIORITY_UNSPECIFIED:
        priority = NORMAL
    if priority not in (LOW, NORMAL, URGENT):
        raise NotificationInvalid(f"unknown priority {priority}: low, normal or urgent")
    return Incoming(clean_title, clean_body, priority, key)


@dataclass(frozen=True)
class DeviceContext:
    """What may hold a notification back on a device, right now."""

    do_not_disturb: bool = False
    privacy_mode: bool = False
    navigating: bool = False

    def hold_reason(self) -> str:
        """Why a non-urgent notification waits ("" = nothing holds it)."""
        if self.do_not_disturb:
            return "do-not-disturb"
        if self.privacy_mode:
            return "privacy mode"
        if self.navigating:
            return "navigation"
        return ""


def delivery_for(priority: int, context: DeviceContext) -> tuple[int, str]:
    """(SHOWN or HELD, why held): only URGENT goes through what holds the others."""
    reason = context.hold_reason()
    if reason and priority != URGENT:
        return HELD, reason
    return SHOWN, ""


@dataclass(frozen=True)
class Unread:
    notification_id: str
    source: str
    title: str
    body: str
    priority: int
    received_at: float
    delivery: int


@dataclass(frozen=True)
class Decision:
    notification_id: str
    delivery: int
    # Why it was held ("do-not-disturb", "privacy mode", "navigation"); "" otherwise.
    held_because: str = ""


@dataclass
class _Seen:
    notification_id: str
    expires_at: float


@dataclass
class NotificationPolicy:
    """The state behind `decide`: recent dedup keys, source buckets, unread lists."""

    limits: NotificationLimits
    clock: Callable[[], float]
    new_id: Callable[[], str]
    _seen: OrderedDict[tuple[str, str, str], _Seen] = field(default_factory=OrderedDict, init=False)
    _unread: OrderedDict[str, deque[Unread]] = field(default_factory=OrderedDict, init=False)
    _buckets: RateBuckets = field(init=False)

    def __post_init__(self) -> None:
        self._buckets = RateBuckets(self.limits.source_per_s, self.limits.source_burst)

    def _expire(self, now: float) -> None:
        # One window for all: insertion order is expiry order.
        while self._seen:
            oldest = next(iter(self._seen.values()))
            if oldest.expires_at > now and len(self._seen) <= self.limits.max_dedup_entries:
                break
            self._seen.popitem(last=False)

    def decide(self, device_id: str, source: str, incoming: Incoming, context: DeviceContext) -> Decision:
        """The delivery of a validated notification, recorded (dedup key,
        unread list); RateLimited when the source is over its rate."""
        now = self.clock()
        self._expire(now)
        key = (device_id, source, incoming.dedup_key)
        if incoming.dedup_key and (seen := self._seen.get(key)) is not None:
            return Decision(seen.notification_id, DUPLICATE)
        if not self._buckets.admit(source, now):
            # A refused request books nothing, so one token's interval is the most it waits.
            raise RateLimited(source, float(math.ceil(self._buckets.interval)))
        notification_id = self.new_id()
        delivery, reason = delivery_for(incoming.priority, context)
        if incoming.dedup_key:
            self._seen[key] = _Seen(notification_id, now + self.limits.dedup_window_s)
            self._expire(now)
        unread = self._unread.get(device_id)
        if unread is None:
            if len(self._unread) >= self.limits.max_devices:
                self._unread.popitem(last=False)
            unread = self._unread[device_id] = deque(maxlen=self.limits.unread_per_device)
        self._unread.move_to_end(device_id)
        unread.append(Unread(notification_id, source, incoming.title, incoming.body, incoming.priority, now, delivery))
        return Decision(notification_id, delivery, reason)

    def retract(self, device_id: str, notification_id: str) -> None:
        """Forget a decided notification that could not be sent (a retry is not a duplicate)."""
        for key, seen in list(self._seen.items()):
            if key[0] == device_id and seen.notification_id == notification_id:
                del self._seen[key]
        unread = self._unread.get(device_id)
        if unread is not None:
            kept = [entry for entry in unread if entry.notification_id != notification_id]
            unread.clear()
            unread.extend(kept)

    def unread(self, device_id: str) -> list[Unread]:
        """The device's unread notifications, oldest first."""
        return list(self._unread.get(device_id, ()))

    def held(self, device_id: str) -> list[Unread]:
        """The unread ones that were held back (to show once nothing holds them)."""
        return [entry for entry in self.unread(device_id) if entry.delivery == HELD]

    def mark_read(self, device_id: str, notification_ids: set[str] | None = None) -> list[Unread]:
        """Mark read (all, or those ids) and return what was marked, oldest first."""
        unread = self._unread.get(device_id)
        if unread is None:
            return []
        read = [entry for entry in unread if notification_ids is None or entry.notification_id in notification_ids]
        kept = [entry for entry in unread if notification_ids is not None and entry.notification_id not in notification_ids]
        unread.clear()
        unread.extend(kept)
        return read

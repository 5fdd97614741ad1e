"""Per-device limits: a token bucket of audio seconds, and a window that lets
one report through per device (so a flood yields one ErrorEvent, not one
per frame)."""

from __future__ import annotations

from collections import OrderedDict


class TokenBucket:
    """`rate` tokens per second up to `burst`; take() spends them."""

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.updated = now

    def take(self, amount: float, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens < amount:
            return False
        self.tokens -= amount
        return True


class DeviceBuckets:
    """One bucket per device; the least recently seen are forgotten past `max_devices`."""

    def __init__(self, rate: float, burst: float, *, max_devices: int = 100_000) -> None:
        self.rate = rate
        self.burst = burst
        self.max_devices = max_devices
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def allow(self, device_id: str, seconds: float, now: float) -> bool:
        bucket = self._buckets.pop(device_id, None) or TokenBucket(self.rate, self.burst, now)
        self._buckets[device_id] = bucket
        while len(self._buckets) > self.max_devices:
            self._buckets.popitem(last=False)
        return bucket.take(seconds, now)


class ReportWindow:
    """should_report(key, now) is True at most once per `interval_s` per key."""

    def __init__(self, interval_s: float, *, max_keys: int = 100_000) -> None:
        self.interval_s = interval_s
        self.max_keys = max_keys
        self._last: OrderedDict[object, float] = OrderedDict()

    def should_report(self, key: object, now: float) -> bool:
        last = self._last.get(key)
        if last is not None and now - last < self.interval_s:
            return False
        self._last.pop(key, None)
        self._last[key] = now
        while len(self._last) > self.max_keys:
            self._last.popitem(last=False)
        return True

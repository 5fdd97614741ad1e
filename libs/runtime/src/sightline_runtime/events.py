"""Event ids, metadata and ordering numbers shared by every producer."""

from __future__ import annotations

import threading
import time
import uuid

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from sightline.v1.common_pb2 import EventMeta

from sightline_runtime.subjects import check_device_id

# Headers every event carries on the bus.
HEADER_MSG_ID = "Nats-Msg-Id"  # JetStream dedup; equals meta.event_id
HEADER_TYPE = "Sightline-Type"  # protobuf full name, e.g. sightline.v1.DisplayUpdate
CONTENT_TYPE = "application/x-protobuf"


def new_event_id() -> str:
    """A random, URL- and subject-safe unique id."""
    return uuid.uuid4().hex


def now_timestamp() -> Timestamp:
    ts = Timestamp()
    ts.GetCurrentTime()
    return ts


class HybridClock:
    """Monotonic numbers that also survive a process restart.

    Each value is max(previous + 1, wall-clock microseconds), so a restarted
    producer continues above what it issued before (the wall clock moved on)
    and consumers can apply latest-wins without shared state.
    """

    def __init__(self) -> None:
        self._last: dict[object, int] = {}
        self._lock = threading.Lock()

    def next(self, key: object) -> int:
        with self._lock:
            value = max(self._last.get(key, 0) + 1, time.time_ns() // 1000)
            self._last[key] = value
            return value


def new_meta(
    device_id: str,
    producer: str,
    *,
    seq: int = 0,
    causation_id: str = "",
    event_id: str | None = None,
) -> EventMeta:
    return EventMeta(
        event_id=event_id or new_event_id(),
        device_id=check_device_id(device_id),
        seq=seq,
        created_at=now_timestamp(),
        producer=producer,
        causation_id=causation_id,
    )


def event_headers(event: Message) -> dict[str, str]:
    """Headers for publishing `event` (which must have a meta field)."""
    headers = {HEADER_TYPE: event.DESCRIPTOR.full_name, "content-type": CONTENT_TYPE}
    meta = getattr(event, "meta", None)
    if meta is not None and meta.event_id:
        headers[HEADER_MSG_ID] = meta.event_id
    return headers

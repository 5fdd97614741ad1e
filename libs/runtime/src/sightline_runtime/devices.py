"""The device registry: which pairs of glasses exist and how their HUD looks.

Records live in the JetStream KV bucket "devices" (DeviceRecord protobufs).
Each service keeps a local mirror fed by a KV watch, so checking a device
costs a dict lookup, not a round trip. A miss is confirmed with one direct
read (a device provisioned a moment ago), and misses are remembered briefly
so a flood of events for an unknown device cannot flood the KV too.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol

from google.protobuf.message import DecodeError
from nats.js.client import JetStreamContext
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from sightline.v1.device_pb2 import DeviceRecord, DeviceStatus, HudProfile

from sightline_runtime.events import now_timestamp
from sightline_runtime.kv_mirror import KvFollower
from sightline_runtime.streams import DEVICES, ensure_bucket
from sightline_runtime.subjects import check_device_id

log = logging.getLogger(__name__)

# The monocular HUD of the glasses this project targets (Quark / Ray-Ban class).
DEFAULT_HUD = HudProfile(width_px=640, height_px=480, cell_width_px=16, line_height_px=32)


def is_active(record: DeviceRecord | None) -> bool:
    return record is not None and record.status == DeviceStatus.DEVICE_STATUS_ACTIVE


class DeviceDirectory(Protocol):
    async def lookup(self, device_id: str) -> DeviceRecord | None: ...


class StaticDirectory:
    """A fixed set of devices, for unit tests with TestNatsBroker."""

    def __init__(self, device_ids: list[str] | tuple[str, ...] = ()) -> None:
        self.records = {d: new_record(d) for d in device_ids}

    async def lookup(self, device_id: str) -> DeviceRecord | None:
        return self.records.get(device_id)


def new_record(device_id: str, *, display_name: str = "", target_language: str = "") -> DeviceRecord:
    now = now_timestamp()
    record = DeviceRecord(
        device_id=check_device_id(device_id),
        display_name=display_name or device_id,
        status=DeviceStatus.DEVICE_STATUS_ACTIVE,
        default_target_language=target_language,
    )
    record.created_at.CopyFrom(now)
    record.updated_at.CopyFrom(now)
    record.hud.CopyFrom(DEFAULT_HUD)
    return record


class DeviceRegistry:
    """Reads and writes the KV bucket; mirrors it locally once started."""

    def __init__(self, js: JetStreamContext, *, negative_ttl_s: float = 2.0, replicas: int = 1) -> None:
        self._js = js
        self._replicas = replicas
        self._kv = None
        self._mirror: dict[str, DeviceRecord] = {}
        self._misses: dict[str, float] = {}
        self._negative_ttl_s = negative_ttl_s
        self._follower = KvFollower("device-registry", self._mirrored)
        # Called with (device_id, privacy enabled) when a mirrored record's privacy mode changes.
        self.privacy_listeners: list[Callable[[str, bool], None]] = []

    async def open(self) -> DeviceRegistry:
        if self._kv is None:
            self._kv = await ensure_bucket(self._js, DEVICES, replicas=self._replicas)
        return self

    async def start(self) -> None:
        """Open the bucket and mirror it; returns once the mirror is complete."""
        await self.open()
        await self._follower.start(self._kv)

    async def stop(self) -> None:
        await self._follower.stop()

    @property
    def synced(self) -> bool:
        return self._follower.synced

    def _mirrored(self, device_id: str, value: bytes | None) -> None:
        if value is None:
            self._mirror.pop(device_id, None)
            return
        record = _parse(device_id, value)
        if record is not None:
            previous = self._mirror.get(device_id)
            self._mirror[device_id] = record
            self._misses.pop(device_id, None)
            if previous is not None and previous.privacy.enabled != record.privacy.enabled:
                self._privacy_changed(device_id, record.privacy.enabled)

    def _privacy_changed(self, device_id: str, enabled: bool) -> None:
        for listener in list(self.privacy_listeners):
            try:
                listener(device_id, enabled)
            except Exception:
                log.exception("privacy listener failed", extra={"device_id": device_id})

    async def lookup(self, device_id: str) -> DeviceRecord | None:
        record = self._mirror.get(device_id)
        if record is not None or self._kv is None:
            return record
        missed_at = self._misses.get(device_id)
        if missed_at is not None and time.monotonic() - missed_at < self._negative_ttl_s:
            return None
        record = await self.get(device_id)
        if record is None:
            if len(self._misses) > 100_000:
                self._misses.clear()
            self._misses[device_id] = time.monotonic()
        return record

    # --- administration (CLI `sightline devices`) ---
    async def get(self, device_id: str) -> DeviceRecord | None:
        await self.open()
        try:
            entry = await self._kv.get(device_id)
        except KeyNotFoundError:
            return None
        return _parse(device_id, entry.value) if entry.value else None

    async def put(self, record: DeviceRecord) -> None:
        await self.open()
        check_device_id(record.device_id)
        record.updated_at.CopyFrom(now_timestamp())
        await self._kv.put(record.device_id, record.SerializeToString())
        self._mirror[record.device_id] = record
        self._misses.pop(record.device_id, None)

    async def update(self, device_id: str, change: Callable[[DeviceRecord], bool], *, attempts: int = 10) -> bool:
        """Change a record with compare-and-set (several services may write it
        at once); `change` edits the record in place and says whether it did.
        False when the device does not exist or nothing changed."""
        await self.open()
        for _ in range(attempts):
            try:
                entry = await self._kv.get(device_id)
            except KeyNotFoundError:
                return False
            record = _parse(device_id, entry.value) if entry.value else None
            if record is None or not change(record):
                return False
            record.updated_at.CopyFrom(now_timestamp())
            try:
                await self._kv.update(device_id, record.SerializeToString(), last=entry.revision)
            except KeyWrongLastSequenceError:
                continue
            previous = self._mirror.get(device_id)
            self._mirror[device_id] = record
            if previous is not None and previous.privacy.enabled != record.privacy.enabled:
                self._privacy_changed(device_id, record.privacy.enabled)
            return True
        raise RuntimeError(f"device {device_id!r}: the record kept changing under {attempts} updates")

    async def add(self, device_id: str, *, display_name: str = "", target_language: str = "") -> DeviceRecord:
        existing = await self.get(device_id)
        if existing is not None and is_active(existing):
            return existing
        record = new_record(device_id, display_name=display_name, target_language=target_language)
        if existing is not None:
            record.created_at.CopyFrom(existing.created_at)
        await self.put(record)
        return record

    async def revoke(self, device_id: str) -> DeviceRecord | None:
        record = await self.get(device_id)
        if record is None:
            return None
        record.status = DeviceStatus.DEVICE_STATUS_REVOKED
        await self.put(record)
        return record

    async def list(self) -> list[DeviceRecord]:
        await self.open()
        try:
            keys = await self._kv.keys()
        except Exception as err:  # nats raises NoKeysError on an empty bucket
            if type(err).__name__ == "NoKeysError":
                return []
            raise
        records = [await self.get(k) for k in sorted(keys)]
        return [r for r in records if r is not None]


def _parse(key: str, value: bytes) -> DeviceRecord | None:
    record = DeviceRecord()
    try:
        record.ParseFromString(value)
    except DecodeError:
        log.error("device registry entry is not a DeviceRecord; ignoring it", extra={"device_id": key})
        return None
    if record.device_id != key:
        log.error("device registry entry names another device; ignoring it", extra={"device_id": key, "record_device": record.device_id})
        return None
    return record

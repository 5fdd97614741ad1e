"""Privacy mode, enforced on the hub.

The wearer's PrivacyModeRequest (a DeviceInput on glasses.<device>.up.input)
is applied to the device's registry record (PrivacyState) by every service
that processes camera or microphone data (HandlerSpec.sensor): each has its
own durable consumer `<service>-privacy`, so the state is applied even if
another one is down; the update is a compare-and-set on the record and an
older request (lower input seq) never overrides a newer one. The guard then
drops that device's sensor events before their handler: while privacy is on,
and for data captured within the last privacy window after it was lifted.
The drop is acknowledged (never retried), counted and written to the audit
trail; a handler may add its own clean-up (vision deletes the photo).
"""

from __future__ import annotations

import enum
import logging
from typing import TYPE_CHECKING

from google.protobuf.timestamp_pb2 import Timestamp
from sightline.v1.common_pb2 import EventMeta
from sightline.v1.device_pb2 import AuditAction, DeviceRecord
from sightline.v1.input_pb2 import DeviceInput

from sightline_runtime.audit import AuditLog
from sightline_runtime.streams import ConsumerSpec

if TYPE_CHECKING:  # the guard imports this module
    from sightline_runtime.consumer import EventContext
    from sightline_runtime.devices import DeviceRegistry

log = logging.getLogger(__name__)


class Sensor(enum.Enum):
    MICROPHONE = "microphone"
    CAMERA = "camera"


def privacy_consumer(service: str) -> ConsumerSpec:
    return ConsumerSpec(
        durable=f"{service}-privacy",
        filter_subject="glasses.*.up.input",
        description=f"{service}: privacy mode requests, applied to the device registry",
    )


def _ns(ts: Timestamp) -> int:
    return ts.ToNanoseconds() if ts.seconds or ts.nanos else 0


def blocks(record: DeviceRecord | None, captured_at: Timestamp | None = None) -> bool:
    """Whether data of this device (captured at `captured_at`) must not be processed."""
    if record is None:
        return False
    state = record.privacy
    if state.enabled:
        return True
    captured = _ns(captured_at) if captured_at is not None else 0
    start, end = _ns(state.last_enabled_at), _ns(state.last_disabled_at)
    return bool(captured and start and end and start <= captured < end)


def apply_request(record: DeviceRecord, enabled: bool, meta: EventMeta) -> bool:
    """Set the record's privacy state from a request; False if it changes nothing
    (already in that state, or older than the request that set it)."""
    state = record.privacy
    if meta.seq and state.seq and meta.seq <= state.seq:
        return False
    if state.enabled == enabled and state.HasField("changed_at"):
        return False
    when = meta.created_at if meta.HasField("created_at") else None
    if state.enabled and not enabled:
        state.last_enabled_at.CopyFrom(state.changed_at)
        if when is not None:
            state.last_disabled_at.CopyFrom(when)
    state.enabled = enabled
    if when is not None:
        state.changed_at.CopyFrom(when)
    state.seq = meta.seq
    state.request_event_id = meta.event_id
    return True


class PrivacyControl:
    """Applies privacy requests to the registry and records them in the audit trail."""

    def __init__(self, registry: DeviceRegistry, audit: AuditLog) -> None:
        self.registry = registry
        self.audit = audit

    async def on_device_input(self, event: DeviceInput, ctx: EventContext) -> None:
        if event.WhichOneof("input") != "privacy":
            return
        enabled = event.privacy.enabled
        changed = await self.registry.update(ctx.device_id, lambda record: apply_request(record, enabled, event.meta))
        if changed:
            log.info("privacy mode %s", "on" if enabled else "off", extra={"device_id": ctx.device_id, "event_id": ctx.event_id})
        # Every service applying the request records it; the deterministic id stores it once.
        await self.audit.record(
            ctx.device_id,
            AuditAction.AUDIT_ACTION_PRIVACY_MODE_ON if enabled else AuditAction.AUDIT_ACTION_PRIVACY_MODE_OFF,
            reference_id=ctx.event_id,
            detail="requested on the glasses",
            causation_id=ctx.event_id,
            dedup_key=f"privacy:{ctx.event_id}",
        )

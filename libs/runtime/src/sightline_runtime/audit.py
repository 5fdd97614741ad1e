"""The per-device audit trail: every time a service touches the wearer's
camera or microphone data (or drops it for privacy), one AuditRecord on
`audit.<device>` (stream AUDIT, kept SIGHTLINE_AUDIT_RETENTION_DAYS).

Records with a dedup key get a deterministic event id, so a retried write,
or two services recording the same fact, is stored once (JetStream's
duplicate window). `sightline devices audit ID` reads them back.
"""

from __future__ import annotations

import uuid

from nats.js import api
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError
from sightline.v1.device_pb2 import AuditAction, AuditRecord

from sightline_runtime import subjects
from sightline_runtime.events import new_meta
from sightline_runtime.publisher import EventPublisher
from sightline_runtime.streams import AUDIT

_AUDIT_NAMESPACE = uuid.UUID("0d5f3b52-7a7e-4c55-8b7c-2f4f3c6a9e11")


def audit_subject(device_id: str) -> str:
    return f"audit.{subjects.check_device_id(device_id)}"


class AuditLog:
    def __init__(self, publisher: EventPublisher, service: str) -> None:
        self.publisher = publisher
        self.service = service

    async def record(
        self,
        device_id: str,
        action: int,
        *,
        reference_id: str = "",
        detail: str = "",
        causation_id: str = "",
        dedup_key: str = "",
    ) -> AuditRecord:
        event_id = uuid.uuid5(_AUDIT_NAMESPACE, dedup_key).hex if dedup_key else None
        record = AuditRecord(
            meta=new_meta(device_id, self.service, causation_id=causation_id, event_id=event_id),
            action=action,
            service=self.service,
            reference_id=reference_id[:200],
            detail=detail[:500],
        )
        await self.publisher.publish(audit_subject(device_id), record, stream=AUDIT)
        return record


async def read_audit(js: JetStreamContext, device_id: str, *, limit: int = 1000) -> list[AuditRecord]:
    """The newest `limit` records of a device, oldest first."""
    subject = audit_subject(device_id)
    try:
        info = await js.stream_info(AUDIT.name, subjects_filter=subject)
    except NotFoundError:
        return []
    count = (info.state.subjects or {}).get(subject, 0)
    if not count:
        return []
    sub = await js.pull_subscribe(
        subject, stream=AUDIT.name, config=api.ConsumerConfig(ack_policy=api.AckPolicy.NONE, deliver_policy=api.DeliverPolicy.ALL)
    )
    records: list[AuditRecord] = []
    try:
        while len(records) < count:
            batch = await sub.fetch(min(256, count - len(records)), timeout=5)
            records.extend(AuditRecord.FromString(msg.data) for msg in batch)
    finally:
        await sub.unsubscribe()
    return records[-limit:]


__all__ = ["AuditAction", "AuditLog", "AuditRecord", "audit_subject", "read_audit"]

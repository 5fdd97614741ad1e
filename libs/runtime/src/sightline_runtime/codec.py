"""Decoding untrusted protobuf payloads: size first, then parse, then the
contract rules every event must keep. Errors carry an ErrorCode."""

from __future__ import annotations

from typing import TypeVar

from google.protobuf.message import DecodeError, Message
from sightline.v1.errors_pb2 import ErrorCode

from sightline_runtime.subjects import DEVICE_ID_PATTERN

M = TypeVar("M", bound=Message)


class EventRejected(Exception):
    """The event can never be processed; it is dead-lettered, not retried."""

    def __init__(self, code: int, message: str, *, event_id: str = "", device_id: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.event_id = event_id
        self.device_id = device_id

    @property
    def reason(self) -> str:
        """Short label for metrics, e.g. 'malformed'."""
        return ErrorCode.Name(self.code).removeprefix("ERROR_CODE_").lower()


def decode_event(message_type: type[M], payload: bytes, *, max_bytes: int, subject_device: str | None) -> M:
    """Parse `payload` as `message_type` and check the EventMeta rules.

    subject_device is the device token of the subject it arrived on (None
    for subjects without one); the event must name the same device.
    """
    if len(payload) > max_bytes:
        raise EventRejected(ErrorCode.ERROR_CODE_OVERSIZED, f"payload of {len(payload)} bytes is over the {max_bytes}-byte limit")
    event = message_type()
    try:
        event.ParseFromString(payload)
    except (DecodeError, RuntimeWarning, ValueError) as err:
        raise EventRejected(ErrorCode.ERROR_CODE_MALFORMED, f"not a valid {message_type.DESCRIPTOR.full_name}: {err}") from err
    meta = getattr(event, "meta", None)
    if meta is None:
        return event
    if not meta.event_id:
        raise EventRejected(ErrorCode.ERROR_CODE_INVALID, "event has no meta.event_id", device_id=meta.device_id)
    if len(meta.event_id) > 128 or not meta.event_id.isprintable():
        raise EventRejected(ErrorCode.ERROR_CODE_INVALID, "meta.event_id is not a printable id of at most 128 characters")
    if not DEVICE_ID_PATTERN.fullmatch(meta.device_id):
        raise EventRejected(
            ErrorCode.ERROR_CODE_INVALID, f"meta.device_id {meta.device_id[:80]!r} is not a valid device id", event_id=meta.event_id
        )
    if subject_device is not None and meta.device_id != subject_device:
        raise EventRejected(
            ErrorCode.ERROR_CODE_DEVICE_MISMATCH,
            f"event names device {meta.device_id!r} but arrived on the subject of device {subject_device!r}",
            event_id=meta.event_id,
            device_id=subject_device,
        )
    return event

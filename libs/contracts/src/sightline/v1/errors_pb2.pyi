from sightline.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ErrorCode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ERROR_CODE_UNSPECIFIED: _ClassVar[ErrorCode]
    ERROR_CODE_MALFORMED: _ClassVar[ErrorCode]
    ERROR_CODE_OVERSIZED: _ClassVar[ErrorCode]
    ERROR_CODE_UNKNOWN_DEVICE: _ClassVar[ErrorCode]
    ERROR_CODE_DEVICE_MISMATCH: _ClassVar[ErrorCode]
    ERROR_CODE_INVALID: _ClassVar[ErrorCode]
    ERROR_CODE_REPLAYED: _ClassVar[ErrorCode]
    ERROR_CODE_FORBIDDEN: _ClassVar[ErrorCode]
    ERROR_CODE_UNSUPPORTED_MEDIA: _ClassVar[ErrorCode]
    ERROR_CODE_ENGINE_FAILURE: _ClassVar[ErrorCode]
    ERROR_CODE_TIMEOUT: _ClassVar[ErrorCode]
    ERROR_CODE_INTERNAL: _ClassVar[ErrorCode]
    ERROR_CODE_RATE_LIMITED: _ClassVar[ErrorCode]
    ERROR_CODE_UNSUPPORTED_LANGUAGE: _ClassVar[ErrorCode]
ERROR_CODE_UNSPECIFIED: ErrorCode
ERROR_CODE_MALFORMED: ErrorCode
ERROR_CODE_OVERSIZED: ErrorCode
ERROR_CODE_UNKNOWN_DEVICE: ErrorCode
ERROR_CODE_DEVICE_MISMATCH: ErrorCode
ERROR_CODE_INVALID: ErrorCode
ERROR_CODE_REPLAYED: ErrorCode
ERROR_CODE_FORBIDDEN: ErrorCode
ERROR_CODE_UNSUPPORTED_MEDIA: ErrorCode
ERROR_CODE_ENGINE_FAILURE: ErrorCode
ERROR_CODE_TIMEOUT: ErrorCode
ERROR_CODE_INTERNAL: ErrorCode
ERROR_CODE_RATE_LIMITED: ErrorCode
ERROR_CODE_UNSUPPORTED_LANGUAGE: ErrorCode

class ErrorEvent(_message.Message):
    __slots__ = ("meta", "service", "handler", "subject", "code", "message", "failed_event_id", "payload_size", "payload_sha256", "delivery_attempt")
    META_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    HANDLER_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    FAILED_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_SHA256_FIELD_NUMBER: _ClassVar[int]
    DELIVERY_ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    meta: _common_pb2.EventMeta
    service: str
    handler: str
    subject: str
    code: ErrorCode
    message: str
    failed_event_id: str
    payload_size: int
    payload_sha256: bytes
    delivery_attempt: int
    def __init__(self, meta: _Optional[_Union[_common_pb2.EventMeta, _Mapping]] = ..., service: _Optional[str] = ..., handler: _Optional[str] = ..., subject: _Optional[str] = ..., code: _Optional[_Union[ErrorCode, str]] = ..., message: _Optional[str] = ..., failed_event_id: _Optional[str] = ..., payload_size: _Optional[int] = ..., payload_sha256: _Optional[bytes] = ..., delivery_attempt: _Optional[int] = ...) -> None: ...

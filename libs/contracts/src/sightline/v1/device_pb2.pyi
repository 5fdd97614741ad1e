import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from sightline.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DeviceStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DEVICE_STATUS_UNSPECIFIED: _ClassVar[DeviceStatus]
    DEVICE_STATUS_ACTIVE: _ClassVar[DeviceStatus]
    DEVICE_STATUS_REVOKED: _ClassVar[DeviceStatus]

class AuditAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AUDIT_ACTION_UNSPECIFIED: _ClassVar[AuditAction]
    AUDIT_ACTION_MICROPHONE_PROCESSED: _ClassVar[AuditAction]
    AUDIT_ACTION_PHOTO_PROCESSED: _ClassVar[AuditAction]
    AUDIT_ACTION_PHOTO_STORED: _ClassVar[AuditAction]
    AUDIT_ACTION_PRIVACY_MODE_ON: _ClassVar[AuditAction]
    AUDIT_ACTION_PRIVACY_MODE_OFF: _ClassVar[AuditAction]
    AUDIT_ACTION_DATA_DROPPED_PRIVACY: _ClassVar[AuditAction]
    AUDIT_ACTION_PHOTO_TREATED: _ClassVar[AuditAction]
    AUDIT_ACTION_PHOTO_DELETED: _ClassVar[AuditAction]
DEVICE_STATUS_UNSPECIFIED: DeviceStatus
DEVICE_STATUS_ACTIVE: DeviceStatus
DEVICE_STATUS_REVOKED: DeviceStatus
AUDIT_ACTION_UNSPECIFIED: AuditAction
AUDIT_ACTION_MICROPHONE_PROCESSED: AuditAction
AUDIT_ACTION_PHOTO_PROCESSED: AuditAction
AUDIT_ACTION_PHOTO_STORED: AuditAction
AUDIT_ACTION_PRIVACY_MODE_ON: AuditAction
AUDIT_ACTION_PRIVACY_MODE_OFF: AuditAction
AUDIT_ACTION_DATA_DROPPED_PRIVACY: AuditAction
AUDIT_ACTION_PHOTO_TREATED: AuditAction
AUDIT_ACTION_PHOTO_DELETED: AuditAction

class HudProfile(_message.Message):
    __slots__ = ("width_px", "height_px", "cell_width_px", "line_height_px")
    WIDTH_PX_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_PX_FIELD_NUMBER: _ClassVar[int]
    CELL_WIDTH_PX_FIELD_NUMBER: _ClassVar[int]
    LINE_HEIGHT_PX_FIELD_NUMBER: _ClassVar[int]
    width_px: int
    height_px: int
    cell_width_px: int
    line_height_px: int
    def __init__(self, width_px: _Optional[int] = ..., height_px: _Optional[int] = ..., cell_width_px: _Optional[int] = ..., line_height_px: _Optional[int] = ...) -> None: ...

class DeviceRecord(_message.Message):
    __slots__ = ("device_id", "display_name", "status", "created_at", "updated_at", "hud", "public_key", "default_target_language", "privacy", "keep_unblurred_photos", "time_zone", "do_not_disturb")
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    HUD_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_TARGET_LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    PRIVACY_FIELD_NUMBER: _ClassVar[int]
    KEEP_UNBLURRED_PHOTOS_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    DO_NOT_DISTURB_FIELD_NUMBER: _ClassVar[int]
    device_id: str
    display_name: str
    status: DeviceStatus
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    hud: HudProfile
    public_key: str
    default_target_language: str
    privacy: PrivacyState
    keep_unblurred_photos: bool
    time_zone: str
    do_not_disturb: bool
    def __init__(self, device_id: _Optional[str] = ..., display_name: _Optional[str] = ..., status: _Optional[_Union[DeviceStatus, str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., hud: _Optional[_Union[HudProfile, _Mapping]] = ..., public_key: _Optional[str] = ..., default_target_language: _Optional[str] = ..., privacy: _Optional[_Union[PrivacyState, _Mapping]] = ..., keep_unblurred_photos: _Optional[bool] = ..., time_zone: _Optional[str] = ..., do_not_disturb: _Optional[bool] = ...) -> None: ...

class PrivacyState(_message.Message):
    __slots__ = ("enabled", "changed_at", "seq", "last_enabled_at", "last_disabled_at", "request_event_id")
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    CHANGED_AT_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    LAST_ENABLED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_DISABLED_AT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    enabled: bool
    changed_at: _timestamp_pb2.Timestamp
    seq: int
    last_enabled_at: _timestamp_pb2.Timestamp
    last_disabled_at: _timestamp_pb2.Timestamp
    request_event_id: str
    def __init__(self, enabled: _Optional[bool] = ..., changed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., seq: _Optional[int] = ..., last_enabled_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_disabled_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., request_event_id: _Optional[str] = ...) -> None: ...

class AuditRecord(_message.Message):
    __slots__ = ("meta", "action", "service", "reference_id", "detail")
    META_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_ID_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    meta: _common_pb2.EventMeta
    action: AuditAction
    service: str
    reference_id: str
    detail: str
    def __init__(self, meta: _Optional[_Union[_common_pb2.EventMeta, _Mapping]] = ..., action: _Optional[_Union[AuditAction, str]] = ..., service: _Optional[str] = ..., reference_id: _Optional[str] = ..., detail: _Optional[str] = ...) -> None: ...

class DeviceCommand(_message.Message):
    __slots__ = ("meta", "take_photo", "conversation_translation")
    META_FIELD_NUMBER: _ClassVar[int]
    TAKE_PHOTO_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_TRANSLATION_FIELD_NUMBER: _ClassVar[int]
    meta: _common_pb2.EventMeta
    take_photo: TakePhoto
    conversation_translation: ConversationTranslation
    def __init__(self, meta: _Optional[_Union[_common_pb2.EventMeta, _Mapping]] = ..., take_photo: _Optional[_Union[TakePhoto, _Mapping]] = ..., conversation_translation: _Optional[_Union[ConversationTranslation, _Mapping]] = ...) -> None: ...

class TakePhoto(_message.Message):
    __slots__ = ("purpose",)
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    purpose: str
    def __init__(self, purpose: _Optional[str] = ...) -> None: ...

class ConversationTranslation(_message.Message):
    __slots__ = ("enabled", "source_language", "target_language")
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    SOURCE_LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    TARGET_LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    enabled: bool
    source_language: str
    target_language: str
    def __init__(self, enabled: _Optional[bool] = ..., source_language: _Optional[str] = ..., target_language: _Optional[str] = ...) -> None: ...

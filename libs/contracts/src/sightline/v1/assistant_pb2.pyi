import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from sightline.v1 import common_pb2 as _common_pb2
from sightline.v1 import input_pb2 as _input_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ReplyKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REPLY_KIND_UNSPECIFIED: _ClassVar[ReplyKind]
    REPLY_KIND_ACKNOWLEDGED: _ClassVar[ReplyKind]
    REPLY_KIND_ANSWER: _ClassVar[ReplyKind]
    REPLY_KIND_SUGGESTION: _ClassVar[ReplyKind]
    REPLY_KIND_REMINDER: _ClassVar[ReplyKind]
    REPLY_KIND_BRIEFING: _ClassVar[ReplyKind]
    REPLY_KIND_NOTIFICATION: _ClassVar[ReplyKind]
    REPLY_KIND_SCHEDULE: _ClassVar[ReplyKind]
    REPLY_KIND_MEETING_NOTES: _ClassVar[ReplyKind]
    REPLY_KIND_ERROR: _ClassVar[ReplyKind]

class Recurrence(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RECURRENCE_UNSPECIFIED: _ClassVar[Recurrence]
    RECURRENCE_NONE: _ClassVar[Recurrence]
    RECURRENCE_DAILY: _ClassVar[Recurrence]
    RECURRENCE_WEEKLY: _ClassVar[Recurrence]

class NotificationPriority(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NOTIFICATION_PRIORITY_UNSPECIFIED: _ClassVar[NotificationPriority]
    NOTIFICATION_PRIORITY_LOW: _ClassVar[NotificationPriority]
    NOTIFICATION_PRIORITY_NORMAL: _ClassVar[NotificationPriority]
    NOTIFICATION_PRIORITY_URGENT: _ClassVar[NotificationPriority]

class NotificationDelivery(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NOTIFICATION_DELIVERY_UNSPECIFIED: _ClassVar[NotificationDelivery]
    NOTIFICATION_DELIVERY_SHOWN: _ClassVar[NotificationDelivery]
    NOTIFICATION_DELIVERY_HELD: _ClassVar[NotificationDelivery]
    NOTIFICATION_DELIVERY_DUPLICATE: _ClassVar[NotificationDelivery]
REPLY_KIND_UNSPECIFIED: ReplyKind
REPLY_KIND_ACKNOWLEDGED: ReplyKind
REPLY_KIND_ANSWER: ReplyKind
REPLY_KIND_SUGGESTION: ReplyKind
REPLY_KIND_REMINDER: ReplyKind
REPLY_KIND_BRIEFING: ReplyKind
REPLY_KIND_NOTIFICATION: ReplyKind
REPLY_KIND_SCHEDULE: ReplyKind
REPLY_KIND_MEETING_NOTES: ReplyKind
REPLY_KIND_ERROR: ReplyKind
RECURRENCE_UNSPECIFIED: Recurrence
RECURRENCE_NONE: Recurrence
RECURRENCE_DAILY: Recurrence
RECURRENCE_WEEKLY: Recurrence
NOTIFICATION_PRIORITY_UNSPECIFIED: NotificationPriority
NOTIFICATION_PRIORITY_LOW: NotificationPriority
NOTIFICATION_PRIORITY_NORMAL: NotificationPriority
NOTIFICATION_PRIORITY_URGENT: NotificationPriority
NOTIFICATION_DELIVERY_UNSPECIFIED: NotificationDelivery
NOTIFICATION_DELIVERY_SHOWN: NotificationDelivery
NOTIFICATION_DELIVERY_HELD: NotificationDelivery
NOTIFICATION_DELIVERY_DUPLICATE: NotificationDelivery

class Command(_message.Message):
    __slots__ = ("meta", "intent", "slots", "transcript", "language", "confidence", "understood_by", "utterance_id", "reference_id", "speech_ended_at")
    class SlotsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    META_FIELD_NUMBER: _ClassVar[int]
    INTENT_FIELD_NUMBER: _ClassVar[int]
    SLOTS_FIELD_NUMBER: _ClassVar[int]
    TRANSCRIPT_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    UNDERSTOOD_BY_FIELD_NUMBER: _ClassVar[int]
    UTTERANCE_ID_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_ID_FIELD_NUMBER: _ClassVar[int]
    SPEECH_ENDED_AT_FIELD_NUMBER: _ClassVar[int]
    meta: _common_pb2.EventMeta
    intent: _input_pb2.IntentKind
    slots: _containers.ScalarMap[str, str]
    transcript: str
    language: str
    confidence: float
    understood_by: str
    utterance_id: str
    reference_id: str
    speech_ended_at: _timestamp_pb2.Timestamp
    def __init__(self, meta: _Optional[_Union[_common_pb2.EventMeta, _Mapping]] = ..., intent: _Optional[_Union[_input_pb2.IntentKind, str]] = ..., slots: _Optional[_Mapping[str, str]] = ..., transcript: _Optional[str] = ..., language: _Optional[str] = ..., confidence: _Optional[float] = ..., understood_by: _Optional[str] = ..., utterance_id: _Optional[str] = ..., reference_id: _Optional[str] = ..., speech_ended_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ReplyAction(_message.Message):
    __slots__ = ("action_id", "label")
    ACTION_ID_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    action_id: str
    label: str
    def __init__(self, action_id: _Optional[str] = ..., label: _Optional[str] = ...) -> None: ...

class AssistantReply(_message.Message):
    __slots__ = ("meta", "kind", "title", "body", "items", "language", "actions", "reference_id", "ttl_ms", "urgent", "speech_ended_at")
    META_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    ACTIONS_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_ID_FIELD_NUMBER: _ClassVar[int]
    TTL_MS_FIELD_NUMBER: _ClassVar[int]
    URGENT_FIELD_NUMBER: _ClassVar[int]
    SPEECH_ENDED_AT_FIELD_NUMBER: _ClassVar[int]
    meta: _common_pb2.EventMeta
    kind: ReplyKind
    title: str
    body: str
    items: _containers.RepeatedScalarFieldContainer[str]
    language: str
    actions: _containers.RepeatedCompositeFieldContainer[ReplyAction]
    reference_id: str
    ttl_ms: int
    urgent: bool
    speech_ended_at: _timestamp_pb2.Timestamp
    def __init__(self, meta: _Optional[_Union[_common_pb2.EventMeta, _Mapping]] = ..., kind: _Optional[_Union[ReplyKind, str]] = ..., title: _Optional[str] = ..., body: _Optional[str] = ..., items: _Optional[_Iterable[str]] = ..., language: _Optional[str] = ..., actions: _Optional[_Iterable[_Union[ReplyAction, _Mapping]]] = ..., reference_id: _Optional[str] = ..., ttl_ms: _Optional[int] = ..., urgent: _Optional[bool] = ..., speech_ended_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Reminder(_message.Message):
    __slots__ = ("meta", "reminder_id", "text", "due_at", "time_zone", "recurrence", "occurrence", "language")
    META_FIELD_NUMBER: _ClassVar[int]
    REMINDER_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    DUE_AT_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    RECURRENCE_FIELD_NUMBER: _ClassVar[int]
    OCCURRENCE_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    meta: _common_pb2.EventMeta
    reminder_id: str
    text: str
    due_at: _timestamp_pb2.Timestamp
    time_zone: str
    recurrence: Recurrence
    occurrence: int
    language: str
    def __init__(self, meta: _Optional[_Union[_common_pb2.EventMeta, _Mapping]] = ..., reminder_id: _Optional[str] = ..., text: _Optional[str] = ..., due_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., time_zone: _Optional[str] = ..., recurrence: _Optional[_Union[Recurrence, str]] = ..., occurrence: _Optional[int] = ..., language: _Optional[str] = ...) -> None: ...

class Notification(_message.Message):
    __slots__ = ("meta", "notification_id", "source", "title", "body", "priority", "dedup_key", "delivery")
    META_FIELD_NUMBER: _ClassVar[int]
    NOTIFICATION_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    DEDUP_KEY_FIELD_NUMBER: _ClassVar[int]
    DELIVERY_FIELD_NUMBER: _ClassVar[int]
    meta: _common_pb2.EventMeta
    notification_id: str
    source: str
    title: str
    body: str
    priority: NotificationPriority
    dedup_key: str
    delivery: NotificationDelivery
    def __init__(self, meta: _Optional[_Union[_common_pb2.EventMeta, _Mapping]] = ..., notification_id: _Optional[str] = ..., source: _Optional[str] = ..., title: _Optional[str] = ..., body: _Optional[str] = ..., priority: _Optional[_Union[NotificationPriority, str]] = ..., dedup_key: _Optional[str] = ..., delivery: _Optional[_Union[NotificationDelivery, str]] = ...) -> None: ...

class PushNotificationRequest(_message.Message):
    __slots__ = ("device_id", "title", "body", "priority", "dedup_key")
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    DEDUP_KEY_FIELD_NUMBER: _ClassVar[int]
    device_id: str
    title: str
    body: str
    priority: NotificationPriority
    dedup_key: str
    def __init__(self, device_id: _Optional[str] = ..., title: _Optional[str] = ..., body: _Optional[str] = ..., priority: _Optional[_Union[NotificationPriority, str]] = ..., dedup_key: _Optional[str] = ...) -> None: ...

class PushNotificationResponse(_message.Message):
    __slots__ = ("notification_id", "delivery")
    NOTIFICATION_ID_FIELD_NUMBER: _ClassVar[int]
    DELIVERY_FIELD_NUMBER: _ClassVar[int]
    notification_id: str
    delivery: NotificationDelivery
    def __init__(self, notification_id: _Optional[str] = ..., delivery: _Optional[_Union[NotificationDelivery, str]] = ...) -> None: ...

class CalendarEvent(_message.Message):
    __slots__ = ("event_uid", "summary", "starts_at", "ends_at", "location", "all_day")
    EVENT_UID_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    STARTS_AT_FIELD_NUMBER: _ClassVar[int]
    ENDS_AT_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    ALL_DAY_FIELD_NUMBER: _ClassVar[int]
    event_uid: str
    summary: str
    starts_at: _timestamp_pb2.Timestamp
    ends_at: _timestamp_pb2.Timestamp
    location: str
    all_day: bool
    def __init__(self, event_uid: _Optional[str] = ..., summary: _Optional[str] = ..., starts_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ends_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., location: _Optional[str] = ..., all_day: _Optional[bool] = ...) -> None: ...

class ImportCalendarRequest(_message.Message):
    __slots__ = ("device_id", "ics", "replace")
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    ICS_FIELD_NUMBER: _ClassVar[int]
    REPLACE_FIELD_NUMBER: _ClassVar[int]
    device_id: str
    ics: bytes
    replace: bool
    def __init__(self, device_id: _Optional[str] = ..., ics: _Optional[bytes] = ..., replace: _Optional[bool] = ...) -> None: ...

class ImportCalendarResponse(_message.Message):
    __slots__ = ("imported", "skipped", "warnings")
    IMPORTED_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    imported: int
    skipped: int
    warnings: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, imported: _Optional[int] = ..., skipped: _Optional[int] = ..., warnings: _Optional[_Iterable[str]] = ...) -> None: ...

class TranscriptLine(_message.Message):
    __slots__ = ("utterance_id", "started_at", "ended_at", "text", "language", "translation", "translation_language")
    UTTERANCE_ID_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    ENDED_AT_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    TRANSLATION_FIELD_NUMBER: _ClassVar[int]
    TRANSLATION_LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    utterance_id: str
    started_at: _timestamp_pb2.Timestamp
    ended_at: _timestamp_pb2.Timestamp
    text: str
    language: str
    translation: str
    translation_language: str
    def __init__(self, utterance_id: _Optional[str] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ended_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., text: _Optional[str] = ..., language: _Optional[str] = ..., translation: _Optional[str] = ..., translation_language: _Optional[str] = ...) -> None: ...

class GetTranscriptRequest(_message.Message):
    __slots__ = ("device_id", "since", "limit", "page_token")
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    device_id: str
    since: _timestamp_pb2.Timestamp
    limit: int
    page_token: str
    def __init__(self, device_id: _Optional[str] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., limit: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class GetTranscriptResponse(_message.Message):
    __slots__ = ("lines", "next_page_token")
    LINES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    lines: _containers.RepeatedCompositeFieldContainer[TranscriptLine]
    next_page_token: str
    def __init__(self, lines: _Optional[_Iterable[_Union[TranscriptLine, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class MeetingNotes(_message.Message):
    __slots__ = ("meta", "notes_id", "started_at", "ended_at", "summary", "action_items", "engine", "utterances")
    META_FIELD_NUMBER: _ClassVar[int]
    NOTES_ID_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    ENDED_AT_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    ACTION_ITEMS_FIELD_NUMBER: _ClassVar[int]
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    UTTERANCES_FIELD_NUMBER: _ClassVar[int]
    meta: _common_pb2.EventMeta
    notes_id: str
    started_at: _timestamp_pb2.Timestamp
    ended_at: _timestamp_pb2.Timestamp
    summary: str
    action_items: _containers.RepeatedScalarFieldContainer[str]
    engine: str
    utterances: int
    def __init__(self, meta: _Optional[_Union[_common_pb2.EventMeta, _Mapping]] = ..., notes_id: _Optional[str] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ended_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., summary: _Optional[str] = ..., action_items: _Optional[_Iterable[str]] = ..., engine: _Optional[str] = ..., utterances: _Optional[int] = ...) -> None: ...

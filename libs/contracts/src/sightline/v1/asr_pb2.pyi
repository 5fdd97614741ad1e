import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from sightline.v1 import common_pb2 as _common_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Transcript(_message.Message):
    __slots__ = ("meta", "utterance_id", "revision", "is_final", "text", "language", "target_language", "confidence", "engine", "stream_id", "speech_started_at", "speech_ended_at")
    META_FIELD_NUMBER: _ClassVar[int]
    UTTERANCE_ID_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    IS_FINAL_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    TARGET_LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    SPEECH_STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    SPEECH_ENDED_AT_FIELD_NUMBER: _ClassVar[int]
    meta: _common_pb2.EventMeta
    utterance_id: str
    revision: int
    is_final: bool
    text: str
    language: str
    target_language: str
    confidence: float
    engine: str
    stream_id: str
    speech_started_at: _timestamp_pb2.Timestamp
    speech_ended_at: _timestamp_pb2.Timestamp
    def __init__(self, meta: _Optional[_Union[_common_pb2.EventMeta, _Mapping]] = ..., utterance_id: _Optional[str] = ..., revision: _Optional[int] = ..., is_final: _Optional[bool] = ..., text: _Optional[str] = ..., language: _Optional[str] = ..., target_language: _Optional[str] = ..., confidence: _Optional[float] = ..., engine: _Optional[str] = ..., stream_id: _Optional[str] = ..., speech_started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., speech_ended_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

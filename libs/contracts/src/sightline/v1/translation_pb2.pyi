from sightline.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TextOrigin(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TEXT_ORIGIN_UNSPECIFIED: _ClassVar[TextOrigin]
    TEXT_ORIGIN_SPEECH: _ClassVar[TextOrigin]
    TEXT_ORIGIN_SIGN: _ClassVar[TextOrigin]
    TEXT_ORIGIN_MENU: _ClassVar[TextOrigin]
    TEXT_ORIGIN_TYPED: _ClassVar[TextOrigin]

class TranslationStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRANSLATION_STATUS_UNSPECIFIED: _ClassVar[TranslationStatus]
    TRANSLATION_STATUS_OK: _ClassVar[TranslationStatus]
    TRANSLATION_STATUS_FAILED: _ClassVar[TranslationStatus]
    TRANSLATION_STATUS_UNSUPPORTED: _ClassVar[TranslationStatus]
TEXT_ORIGIN_UNSPECIFIED: TextOrigin
TEXT_ORIGIN_SPEECH: TextOrigin
TEXT_ORIGIN_SIGN: TextOrigin
TEXT_ORIGIN_MENU: TextOrigin
TEXT_ORIGIN_TYPED: TextOrigin
TRANSLATION_STATUS_UNSPECIFIED: TranslationStatus
TRANSLATION_STATUS_OK: TranslationStatus
TRANSLATION_STATUS_FAILED: TranslationStatus
TRANSLATION_STATUS_UNSUPPORTED: TranslationStatus

class TranslatedRegion(_message.Message):
    __slots__ = ("region_index", "source_text", "text", "box")
    REGION_INDEX_FIELD_NUMBER: _ClassVar[int]
    SOURCE_TEXT_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    BOX_FIELD_NUMBER: _ClassVar[int]
    region_index: int
    source_text: str
    text: str
    box: _common_pb2.Box
    def __init__(self, region_index: _Optional[int] = ..., source_text: _Optional[str] = ..., text: _Optional[str] = ..., box: _Optional[_Union[_common_pb2.Box, _Mapping]] = ...) -> None: ...

class Translation(_message.Message):
    __slots__ = ("meta", "source_event_id", "utterance_id", "revision", "is_final", "origin", "source_language", "target_language", "source_text", "text", "engine", "fallback_used", "glossary_terms", "photo_id", "regions", "status", "status_detail")
    META_FIELD_NUMBER: _ClassVar[int]
    SOURCE_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    UTTERANCE_ID_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    IS_FINAL_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    SOURCE_LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    TARGET_LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_TEXT_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    FALLBACK_USED_FIELD_NUMBER: _ClassVar[int]
    GLOSSARY_TERMS_FIELD_NUMBER: _ClassVar[int]
    PHOTO_ID_FIELD_NUMBER: _ClassVar[int]
    REGIONS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STATUS_DETAIL_FIELD_NUMBER: _ClassVar[int]
    meta: _common_pb2.EventMeta
    source_event_id: str
    utterance_id: str
    revision: int
    is_final: bool
    origin: TextOrigin
    source_language: str
    target_language: str
    source_text: str
    text: str
    engine: str
    fallback_used: bool
    glossary_terms: _containers.RepeatedScalarFieldContainer[str]
    photo_id: str
    regions: _containers.RepeatedCompositeFieldContainer[TranslatedRegion]
    status: TranslationStatus
    status_detail: str
    def __init__(self, meta: _Optional[_Union[_common_pb2.EventMeta, _Mapping]] = ..., source_event_id: _Optional[str] = ..., utterance_id: _Optional[str] = ..., revision: _Optional[int] = ..., is_final: _Optional[bool] = ..., origin: _Optional[_Union[TextOrigin, str]] = ..., source_language: _Optional[str] = ..., target_language: _Optional[str] = ..., source_text: _Optional[str] = ..., text: _Optional[str] = ..., engine: _Optional[str] = ..., fallback_used: _Optional[bool] = ..., glossary_terms: _Optional[_Iterable[str]] = ..., photo_id: _Optional[str] = ..., regions: _Optional[_Iterable[_Union[TranslatedRegion, _Mapping]]] = ..., status: _Optional[_Union[TranslationStatus, str]] = ..., status_detail: _Optional[str] = ...) -> None: ...

class GlossaryEntry(_message.Message):
    __slots__ = ("source_language", "target_language", "term", "translation")
    SOURCE_LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    TARGET_LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    TERM_FIELD_NUMBER: _ClassVar[int]
    TRANSLATION_FIELD_NUMBER: _ClassVar[int]
    source_language: str
    target_language: str
    term: str
    translation: str
    def __init__(self, source_language: _Optional[str] = ..., target_language: _Optional[str] = ..., term: _Optional[str] = ..., translation: _Optional[str] = ...) -> None: ...

class TranslateRequest(_message.Message):
    __slots__ = ("device_id", "source_language", "target_language", "texts", "origin")
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    TARGET_LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    TEXTS_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    device_id: str
    source_language: str
    target_language: str
    texts: _containers.RepeatedScalarFieldContainer[str]
    origin: TextOrigin
    def __init__(self, device_id: _Optional[str] = ..., source_language: _Optional[str] = ..., target_language: _Optional[str] = ..., texts: _Optional[_Iterable[str]] = ..., origin: _Optional[_Union[TextOrigin, str]] = ...) -> None: ...

class TranslateResponse(_message.Message):
    __slots__ = ("texts", "engine", "fallback_used")
    TEXTS_FIELD_NUMBER: _ClassVar[int]
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    FALLBACK_USED_FIELD_NUMBER: _ClassVar[int]
    texts: _containers.RepeatedScalarFieldContainer[str]
    engine: str
    fallback_used: bool
    def __init__(self, texts: _Optional[_Iterable[str]] = ..., engine: _Optional[str] = ..., fallback_used: _Optional[bool] = ...) -> None: ...

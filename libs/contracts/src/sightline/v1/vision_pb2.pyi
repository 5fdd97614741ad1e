import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from sightline.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PhotoTreatment(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PHOTO_TREATMENT_UNSPECIFIED: _ClassVar[PhotoTreatment]
    PHOTO_TREATMENT_NO_FACES: _ClassVar[PhotoTreatment]
    PHOTO_TREATMENT_FACES_BLURRED: _ClassVar[PhotoTreatment]
    PHOTO_TREATMENT_ORIGINAL_KEPT: _ClassVar[PhotoTreatment]
PHOTO_TREATMENT_UNSPECIFIED: PhotoTreatment
PHOTO_TREATMENT_NO_FACES: PhotoTreatment
PHOTO_TREATMENT_FACES_BLURRED: PhotoTreatment
PHOTO_TREATMENT_ORIGINAL_KEPT: PhotoTreatment

class PhotoCaptured(_message.Message):
    __slots__ = ("meta", "photo_id", "content_type", "size_bytes", "sha256", "captured_at", "data", "target_language", "upload_id")
    META_FIELD_NUMBER: _ClassVar[int]
    PHOTO_ID_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    CAPTURED_AT_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    TARGET_LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    meta: _common_pb2.EventMeta
    photo_id: str
    content_type: str
    size_bytes: int
    sha256: bytes
    captured_at: _timestamp_pb2.Timestamp
    data: bytes
    target_language: str
    upload_id: str
    def __init__(self, meta: _Optional[_Union[_common_pb2.EventMeta, _Mapping]] = ..., photo_id: _Optional[str] = ..., content_type: _Optional[str] = ..., size_bytes: _Optional[int] = ..., sha256: _Optional[bytes] = ..., captured_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., data: _Optional[bytes] = ..., target_language: _Optional[str] = ..., upload_id: _Optional[str] = ...) -> None: ...

class PhotoStored(_message.Message):
    __slots__ = ("meta", "photo_id", "bucket", "object_name", "content_type", "size_bytes", "sha256", "width", "height", "captured_at", "target_language", "treatment", "faces")
    META_FIELD_NUMBER: _ClassVar[int]
    PHOTO_ID_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    OBJECT_NAME_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    CAPTURED_AT_FIELD_NUMBER: _ClassVar[int]
    TARGET_LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    TREATMENT_FIELD_NUMBER: _ClassVar[int]
    FACES_FIELD_NUMBER: _ClassVar[int]
    meta: _common_pb2.EventMeta
    photo_id: str
    bucket: str
    object_name: str
    content_type: str
    size_bytes: int
    sha256: bytes
    width: int
    height: int
    captured_at: _timestamp_pb2.Timestamp
    target_language: str
    treatment: PhotoTreatment
    faces: int
    def __init__(self, meta: _Optional[_Union[_common_pb2.EventMeta, _Mapping]] = ..., photo_id: _Optional[str] = ..., bucket: _Optional[str] = ..., object_name: _Optional[str] = ..., content_type: _Optional[str] = ..., size_bytes: _Optional[int] = ..., sha256: _Optional[bytes] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., captured_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., target_language: _Optional[str] = ..., treatment: _Optional[_Union[PhotoTreatment, str]] = ..., faces: _Optional[int] = ...) -> None: ...

class TextRegion(_message.Message):
    __slots__ = ("text", "box", "confidence", "language", "masked")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    BOX_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    MASKED_FIELD_NUMBER: _ClassVar[int]
    text: str
    box: _common_pb2.Box
    confidence: float
    language: str
    masked: bool
    def __init__(self, text: _Optional[str] = ..., box: _Optional[_Union[_common_pb2.Box, _Mapping]] = ..., confidence: _Optional[float] = ..., language: _Optional[str] = ..., masked: _Optional[bool] = ...) -> None: ...

class DecodedCode(_message.Message):
    __slots__ = ("format", "text", "box")
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    BOX_FIELD_NUMBER: _ClassVar[int]
    format: str
    text: str
    box: _common_pb2.Box
    def __init__(self, format: _Optional[str] = ..., text: _Optional[str] = ..., box: _Optional[_Union[_common_pb2.Box, _Mapping]] = ...) -> None: ...

class ImageTag(_message.Message):
    __slots__ = ("label", "score", "vocabulary")
    LABEL_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    VOCABULARY_FIELD_NUMBER: _ClassVar[int]
    label: str
    score: float
    vocabulary: str
    def __init__(self, label: _Optional[str] = ..., score: _Optional[float] = ..., vocabulary: _Optional[str] = ...) -> None: ...

class VisionResult(_message.Message):
    __slots__ = ("meta", "photo_id", "image_width", "image_height", "text_regions", "tags", "ocr_engine", "tagger_engine", "target_language", "codes", "treatment", "faces", "captured_at", "analysis_ms")
    META_FIELD_NUMBER: _ClassVar[int]
    PHOTO_ID_FIELD_NUMBER: _ClassVar[int]
    IMAGE_WIDTH_FIELD_NUMBER: _ClassVar[int]
    IMAGE_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    TEXT_REGIONS_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    OCR_ENGINE_FIELD_NUMBER: _ClassVar[int]
    TAGGER_ENGINE_FIELD_NUMBER: _ClassVar[int]
    TARGET_LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    CODES_FIELD_NUMBER: _ClassVar[int]
    TREATMENT_FIELD_NUMBER: _ClassVar[int]
    FACES_FIELD_NUMBER: _ClassVar[int]
    CAPTURED_AT_FIELD_NUMBER: _ClassVar[int]
    ANALYSIS_MS_FIELD_NUMBER: _ClassVar[int]
    meta: _common_pb2.EventMeta
    photo_id: str
    image_width: int
    image_height: int
    text_regions: _containers.RepeatedCompositeFieldContainer[TextRegion]
    tags: _containers.RepeatedCompositeFieldContainer[ImageTag]
    ocr_engine: str
    tagger_engine: str
    target_language: str
    codes: _containers.RepeatedCompositeFieldContainer[DecodedCode]
    treatment: PhotoTreatment
    faces: int
    captured_at: _timestamp_pb2.Timestamp
    analysis_ms: float
    def __init__(self, meta: _Optional[_Union[_common_pb2.EventMeta, _Mapping]] = ..., photo_id: _Optional[str] = ..., image_width: _Optional[int] = ..., image_height: _Optional[int] = ..., text_regions: _Optional[_Iterable[_Union[TextRegion, _Mapping]]] = ..., tags: _Optional[_Iterable[_Union[ImageTag, _Mapping]]] = ..., ocr_engine: _Optional[str] = ..., tagger_engine: _Optional[str] = ..., target_language: _Optional[str] = ..., codes: _Optional[_Iterable[_Union[DecodedCode, _Mapping]]] = ..., treatment: _Optional[_Union[PhotoTreatment, str]] = ..., faces: _Optional[int] = ..., captured_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., analysis_ms: _Optional[float] = ...) -> None: ...

class SearchPhotosRequest(_message.Message):
    __slots__ = ("device_id", "query", "tags", "since", "until", "limit", "offset")
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    device_id: str
    query: str
    tags: _containers.RepeatedScalarFieldContainer[str]
    since: _timestamp_pb2.Timestamp
    until: _timestamp_pb2.Timestamp
    limit: int
    offset: int
    def __init__(self, device_id: _Optional[str] = ..., query: _Optional[str] = ..., tags: _Optional[_Iterable[str]] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., limit: _Optional[int] = ..., offset: _Optional[int] = ...) -> None: ...

class PhotoRecord(_message.Message):
    __slots__ = ("photo_id", "device_id", "captured_at", "width", "height", "object_name", "tags", "text_regions", "codes", "treatment", "score")
    PHOTO_ID_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    CAPTURED_AT_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    OBJECT_NAME_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    TEXT_REGIONS_FIELD_NUMBER: _ClassVar[int]
    CODES_FIELD_NUMBER: _ClassVar[int]
    TREATMENT_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    photo_id: str
    device_id: str
    captured_at: _timestamp_pb2.Timestamp
    width: int
    height: int
    object_name: str
    tags: _containers.RepeatedCompositeFieldContainer[ImageTag]
    text_regions: _containers.RepeatedCompositeFieldContainer[TextRegion]
    codes: _containers.RepeatedCompositeFieldContainer[DecodedCode]
    treatment: PhotoTreatment
    score: float
    def __init__(self, photo_id: _Optional[str] = ..., device_id: _Optional[str] = ..., captured_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., object_name: _Optional[str] = ..., tags: _Optional[_Iterable[_Union[ImageTag, _Mapping]]] = ..., text_regions: _Optional[_Iterable[_Union[TextRegion, _Mapping]]] = ..., codes: _Optional[_Iterable[_Union[DecodedCode, _Mapping]]] = ..., treatment: _Optional[_Union[PhotoTreatment, str]] = ..., score: _Optional[float] = ...) -> None: ...

class SearchPhotosResponse(_message.Message):
    __slots__ = ("photos", "match_count")
    PHOTOS_FIELD_NUMBER: _ClassVar[int]
    MATCH_COUNT_FIELD_NUMBER: _ClassVar[int]
    photos: _containers.RepeatedCompositeFieldContainer[PhotoRecord]
    match_count: int
    def __init__(self, photos: _Optional[_Iterable[_Union[PhotoRecord, _Mapping]]] = ..., match_count: _Optional[int] = ...) -> None: ...

class GetPhotoRequest(_message.Message):
    __slots__ = ("device_id", "photo_id")
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    PHOTO_ID_FIELD_NUMBER: _ClassVar[int]
    device_id: str
    photo_id: str
    def __init__(self, device_id: _Optional[str] = ..., photo_id: _Optional[str] = ...) -> None: ...

class GetPhotoResponse(_message.Message):
    __slots__ = ("photo",)
    PHOTO_FIELD_NUMBER: _ClassVar[int]
    photo: PhotoRecord
    def __init__(self, photo: _Optional[_Union[PhotoRecord, _Mapping]] = ...) -> None: ...

class DeletePhotoRequest(_message.Message):
    __slots__ = ("device_id", "photo_id")
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    PHOTO_ID_FIELD_NUMBER: _ClassVar[int]
    device_id: str
    photo_id: str
    def __init__(self, device_id: _Optional[str] = ..., photo_id: _Optional[str] = ...) -> None: ...

class DeletePhotoResponse(_message.Message):
    __slots__ = ("deleted",)
    DELETED_FIELD_NUMBER: _ClassVar[int]
    deleted: bool
    def __init__(self, deleted: _Optional[bool] = ...) -> None: ...

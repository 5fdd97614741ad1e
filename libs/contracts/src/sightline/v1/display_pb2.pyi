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

class HudRegion(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    HUD_REGION_UNSPECIFIED: _ClassVar[HudRegion]
    HUD_REGION_CAPTION: _ClassVar[HudRegion]
    HUD_REGION_LABELS: _ClassVar[HudRegion]
    HUD_REGION_CARD: _ClassVar[HudRegion]
    HUD_REGION_PANEL: _ClassVar[HudRegion]
    HUD_REGION_STATUS: _ClassVar[HudRegion]

class CardKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CARD_KIND_UNSPECIFIED: _ClassVar[CardKind]
    CARD_KIND_INFO: _ClassVar[CardKind]
    CARD_KIND_OFFER: _ClassVar[CardKind]
    CARD_KIND_PAYMENT_CONFIRMATION: _ClassVar[CardKind]
    CARD_KIND_RECEIPT: _ClassVar[CardKind]
    CARD_KIND_ERROR: _ClassVar[CardKind]
    CARD_KIND_ANSWER: _ClassVar[CardKind]
    CARD_KIND_SUGGESTION: _ClassVar[CardKind]
    CARD_KIND_REMINDER: _ClassVar[CardKind]
    CARD_KIND_BRIEFING: _ClassVar[CardKind]
    CARD_KIND_NOTIFICATION: _ClassVar[CardKind]
HUD_REGION_UNSPECIFIED: HudRegion
HUD_REGION_CAPTION: HudRegion
HUD_REGION_LABELS: HudRegion
HUD_REGION_CARD: HudRegion
HUD_REGION_PANEL: HudRegion
HUD_REGION_STATUS: HudRegion
CARD_KIND_UNSPECIFIED: CardKind
CARD_KIND_INFO: CardKind
CARD_KIND_OFFER: CardKind
CARD_KIND_PAYMENT_CONFIRMATION: CardKind
CARD_KIND_RECEIPT: CardKind
CARD_KIND_ERROR: CardKind
CARD_KIND_ANSWER: CardKind
CARD_KIND_SUGGESTION: CardKind
CARD_KIND_REMINDER: CardKind
CARD_KIND_BRIEFING: CardKind
CARD_KIND_NOTIFICATION: CardKind

class TextBlock(_message.Message):
    __slots__ = ("lines", "language", "truncated")
    LINES_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    lines: _containers.RepeatedScalarFieldContainer[str]
    language: str
    truncated: bool
    def __init__(self, lines: _Optional[_Iterable[str]] = ..., language: _Optional[str] = ..., truncated: _Optional[bool] = ...) -> None: ...

class CaptionEntry(_message.Message):
    __slots__ = ("utterance_id", "is_final", "source", "translation", "translation_engine")
    UTTERANCE_ID_FIELD_NUMBER: _ClassVar[int]
    IS_FINAL_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    TRANSLATION_FIELD_NUMBER: _ClassVar[int]
    TRANSLATION_ENGINE_FIELD_NUMBER: _ClassVar[int]
    utterance_id: str
    is_final: bool
    source: TextBlock
    translation: TextBlock
    translation_engine: str
    def __init__(self, utterance_id: _Optional[str] = ..., is_final: _Optional[bool] = ..., source: _Optional[_Union[TextBlock, _Mapping]] = ..., translation: _Optional[_Union[TextBlock, _Mapping]] = ..., translation_engine: _Optional[str] = ...) -> None: ...

class Caption(_message.Message):
    __slots__ = ("entries",)
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[CaptionEntry]
    def __init__(self, entries: _Optional[_Iterable[_Union[CaptionEntry, _Mapping]]] = ...) -> None: ...

class AnchoredLabel(_message.Message):
    __slots__ = ("anchor", "text", "source_text", "placement", "translation_status")
    ANCHOR_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_TEXT_FIELD_NUMBER: _ClassVar[int]
    PLACEMENT_FIELD_NUMBER: _ClassVar[int]
    TRANSLATION_STATUS_FIELD_NUMBER: _ClassVar[int]
    anchor: _common_pb2.Box
    text: TextBlock
    source_text: str
    placement: _common_pb2.Box
    translation_status: str
    def __init__(self, anchor: _Optional[_Union[_common_pb2.Box, _Mapping]] = ..., text: _Optional[_Union[TextBlock, _Mapping]] = ..., source_text: _Optional[str] = ..., placement: _Optional[_Union[_common_pb2.Box, _Mapping]] = ..., translation_status: _Optional[str] = ...) -> None: ...

class AnchoredLabels(_message.Message):
    __slots__ = ("photo_id", "labels", "tags", "codes", "omitted")
    PHOTO_ID_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    CODES_FIELD_NUMBER: _ClassVar[int]
    OMITTED_FIELD_NUMBER: _ClassVar[int]
    photo_id: str
    labels: _containers.RepeatedCompositeFieldContainer[AnchoredLabel]
    tags: _containers.RepeatedScalarFieldContainer[str]
    codes: _containers.RepeatedScalarFieldContainer[str]
    omitted: int
    def __init__(self, photo_id: _Optional[str] = ..., labels: _Optional[_Iterable[_Union[AnchoredLabel, _Mapping]]] = ..., tags: _Optional[_Iterable[str]] = ..., codes: _Optional[_Iterable[str]] = ..., omitted: _Optional[int] = ...) -> None: ...

class CardAction(_message.Message):
    __slots__ = ("action_id", "label")
    ACTION_ID_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    action_id: str
    label: str
    def __init__(self, action_id: _Optional[str] = ..., label: _Optional[str] = ...) -> None: ...

class Card(_message.Message):
    __slots__ = ("card_id", "kind", "title", "body", "amount", "actions", "reference_id", "challenge", "expires_at", "items")
    CARD_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    ACTIONS_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_ID_FIELD_NUMBER: _ClassVar[int]
    CHALLENGE_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    card_id: str
    kind: CardKind
    title: TextBlock
    body: TextBlock
    amount: _common_pb2.Money
    actions: _containers.RepeatedCompositeFieldContainer[CardAction]
    reference_id: str
    challenge: str
    expires_at: _timestamp_pb2.Timestamp
    items: _containers.RepeatedCompositeFieldContainer[TextBlock]
    def __init__(self, card_id: _Optional[str] = ..., kind: _Optional[_Union[CardKind, str]] = ..., title: _Optional[_Union[TextBlock, _Mapping]] = ..., body: _Optional[_Union[TextBlock, _Mapping]] = ..., amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., actions: _Optional[_Iterable[_Union[CardAction, _Mapping]]] = ..., reference_id: _Optional[str] = ..., challenge: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., items: _Optional[_Iterable[_Union[TextBlock, _Mapping]]] = ...) -> None: ...

class Panel(_message.Message):
    __slots__ = ("text",)
    TEXT_FIELD_NUMBER: _ClassVar[int]
    text: TextBlock
    def __init__(self, text: _Optional[_Union[TextBlock, _Mapping]] = ...) -> None: ...

class Status(_message.Message):
    __slots__ = ("online", "queued", "privacy_mode")
    ONLINE_FIELD_NUMBER: _ClassVar[int]
    QUEUED_FIELD_NUMBER: _ClassVar[int]
    PRIVACY_MODE_FIELD_NUMBER: _ClassVar[int]
    online: bool
    queued: int
    privacy_mode: bool
    def __init__(self, online: _Optional[bool] = ..., queued: _Optional[int] = ..., privacy_mode: _Optional[bool] = ...) -> None: ...

class ClearRegion(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DisplayUpdate(_message.Message):
    __slots__ = ("meta", "region", "region_version", "bounds", "ttl_ms", "caption", "labels", "card", "panel", "status", "clear")
    META_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    REGION_VERSION_FIELD_NUMBER: _ClassVar[int]
    BOUNDS_FIELD_NUMBER: _ClassVar[int]
    TTL_MS_FIELD_NUMBER: _ClassVar[int]
    CAPTION_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    CARD_FIELD_NUMBER: _ClassVar[int]
    PANEL_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CLEAR_FIELD_NUMBER: _ClassVar[int]
    meta: _common_pb2.EventMeta
    region: HudRegion
    region_version: int
    bounds: _common_pb2.Rect
    ttl_ms: int
    caption: Caption
    labels: AnchoredLabels
    card: Card
    panel: Panel
    status: Status
    clear: ClearRegion
    def __init__(self, meta: _Optional[_Union[_common_pb2.EventMeta, _Mapping]] = ..., region: _Optional[_Union[HudRegion, str]] = ..., region_version: _Optional[int] = ..., bounds: _Optional[_Union[_common_pb2.Rect, _Mapping]] = ..., ttl_ms: _Optional[int] = ..., caption: _Optional[_Union[Caption, _Mapping]] = ..., labels: _Optional[_Union[AnchoredLabels, _Mapping]] = ..., card: _Optional[_Union[Card, _Mapping]] = ..., panel: _Optional[_Union[Panel, _Mapping]] = ..., status: _Optional[_Union[Status, _Mapping]] = ..., clear: _Optional[_Union[ClearRegion, _Mapping]] = ...) -> None: ...

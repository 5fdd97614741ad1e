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

class OrderStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ORDER_STATUS_UNSPECIFIED: _ClassVar[OrderStatus]
    ORDER_STATUS_AWAITING_PAYMENT: _ClassVar[OrderStatus]
    ORDER_STATUS_PAID: _ClassVar[OrderStatus]
    ORDER_STATUS_CANCELLED: _ClassVar[OrderStatus]
    ORDER_STATUS_FAILED: _ClassVar[OrderStatus]
ORDER_STATUS_UNSPECIFIED: OrderStatus
ORDER_STATUS_AWAITING_PAYMENT: OrderStatus
ORDER_STATUS_PAID: OrderStatus
ORDER_STATUS_CANCELLED: OrderStatus
ORDER_STATUS_FAILED: OrderStatus

class Product(_message.Message):
    __slots__ = ("sku", "name", "brand", "tags")
    SKU_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    BRAND_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    sku: str
    name: str
    brand: str
    tags: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, sku: _Optional[str] = ..., name: _Optional[str] = ..., brand: _Optional[str] = ..., tags: _Optional[_Iterable[str]] = ...) -> None: ...

class Offer(_message.Message):
    __slots__ = ("meta", "offer_id", "product", "price", "merchant", "photo_id", "match_score", "expires_at")
    META_FIELD_NUMBER: _ClassVar[int]
    OFFER_ID_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    MERCHANT_FIELD_NUMBER: _ClassVar[int]
    PHOTO_ID_FIELD_NUMBER: _ClassVar[int]
    MATCH_SCORE_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    meta: _common_pb2.EventMeta
    offer_id: str
    product: Product
    price: _common_pb2.Money
    merchant: str
    photo_id: str
    match_score: float
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, meta: _Optional[_Union[_common_pb2.EventMeta, _Mapping]] = ..., offer_id: _Optional[str] = ..., product: _Optional[_Union[Product, _Mapping]] = ..., price: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., merchant: _Optional[str] = ..., photo_id: _Optional[str] = ..., match_score: _Optional[float] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class OrderUpdated(_message.Message):
    __slots__ = ("meta", "order_id", "offer_id", "status", "product", "total", "payment_intent_id", "reason")
    META_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    OFFER_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_INTENT_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    meta: _common_pb2.EventMeta
    order_id: str
    offer_id: str
    status: OrderStatus
    product: Product
    total: _common_pb2.Money
    payment_intent_id: str
    reason: str
    def __init__(self, meta: _Optional[_Union[_common_pb2.EventMeta, _Mapping]] = ..., order_id: _Optional[str] = ..., offer_id: _Optional[str] = ..., status: _Optional[_Union[OrderStatus, str]] = ..., product: _Optional[_Union[Product, _Mapping]] = ..., total: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., payment_intent_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

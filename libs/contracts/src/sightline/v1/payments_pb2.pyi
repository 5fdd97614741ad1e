import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from sightline.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PaymentStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PAYMENT_STATUS_UNSPECIFIED: _ClassVar[PaymentStatus]
    PAYMENT_STATUS_REQUIRES_CONFIRMATION: _ClassVar[PaymentStatus]
    PAYMENT_STATUS_CAPTURED: _ClassVar[PaymentStatus]
    PAYMENT_STATUS_DECLINED: _ClassVar[PaymentStatus]
    PAYMENT_STATUS_EXPIRED: _ClassVar[PaymentStatus]
    PAYMENT_STATUS_CANCELLED: _ClassVar[PaymentStatus]
    PAYMENT_STATUS_FAILED: _ClassVar[PaymentStatus]
PAYMENT_STATUS_UNSPECIFIED: PaymentStatus
PAYMENT_STATUS_REQUIRES_CONFIRMATION: PaymentStatus
PAYMENT_STATUS_CAPTURED: PaymentStatus
PAYMENT_STATUS_DECLINED: PaymentStatus
PAYMENT_STATUS_EXPIRED: PaymentStatus
PAYMENT_STATUS_CANCELLED: PaymentStatus
PAYMENT_STATUS_FAILED: PaymentStatus

class PaymentIntent(_message.Message):
    __slots__ = ("meta", "intent_id", "order_id", "amount", "merchant", "description", "challenge", "expires_at")
    META_FIELD_NUMBER: _ClassVar[int]
    INTENT_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    MERCHANT_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CHALLENGE_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    meta: _common_pb2.EventMeta
    intent_id: str
    order_id: str
    amount: _common_pb2.Money
    merchant: str
    description: str
    challenge: str
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, meta: _Optional[_Union[_common_pb2.EventMeta, _Mapping]] = ..., intent_id: _Optional[str] = ..., order_id: _Optional[str] = ..., amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., merchant: _Optional[str] = ..., description: _Optional[str] = ..., challenge: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PaymentResult(_message.Message):
    __slots__ = ("meta", "intent_id", "order_id", "status", "amount", "ledger_transfer_id", "reason")
    META_FIELD_NUMBER: _ClassVar[int]
    INTENT_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    LEDGER_TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    meta: _common_pb2.EventMeta
    intent_id: str
    order_id: str
    status: PaymentStatus
    amount: _common_pb2.Money
    ledger_transfer_id: str
    reason: str
    def __init__(self, meta: _Optional[_Union[_common_pb2.EventMeta, _Mapping]] = ..., intent_id: _Optional[str] = ..., order_id: _Optional[str] = ..., status: _Optional[_Union[PaymentStatus, str]] = ..., amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., ledger_transfer_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class CreateIntentRequest(_message.Message):
    __slots__ = ("device_id", "order_id", "amount", "merchant", "description", "idempotency_key")
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    MERCHANT_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    device_id: str
    order_id: str
    amount: _common_pb2.Money
    merchant: str
    description: str
    idempotency_key: str
    def __init__(self, device_id: _Optional[str] = ..., order_id: _Optional[str] = ..., amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., merchant: _Optional[str] = ..., description: _Optional[str] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class CreateIntentResponse(_message.Message):
    __slots__ = ("intent",)
    INTENT_FIELD_NUMBER: _ClassVar[int]
    intent: PaymentIntent
    def __init__(self, intent: _Optional[_Union[PaymentIntent, _Mapping]] = ...) -> None: ...

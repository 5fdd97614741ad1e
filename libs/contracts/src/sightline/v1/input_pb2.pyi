from sightline.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class IntentKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INTENT_KIND_UNSPECIFIED: _ClassVar[IntentKind]
    INTENT_KIND_BUY: _ClassVar[IntentKind]
    INTENT_KIND_CANCEL: _ClassVar[IntentKind]
    INTENT_KIND_TRANSLATE: _ClassVar[IntentKind]
    INTENT_KIND_TAKE_PHOTO: _ClassVar[IntentKind]
    INTENT_KIND_PRICE_CHECK: _ClassVar[IntentKind]
    INTENT_KIND_ADD_TO_CART: _ClassVar[IntentKind]
    INTENT_KIND_CONFIRM: _ClassVar[IntentKind]
    INTENT_KIND_NAVIGATE: _ClassVar[IntentKind]
    INTENT_KIND_STOP_NAVIGATION: _ClassVar[IntentKind]
    INTENT_KIND_SET_REMINDER: _ClassVar[IntentKind]
    INTENT_KIND_SCHEDULE: _ClassVar[IntentKind]
    INTENT_KIND_NEXT_EVENT: _ClassVar[IntentKind]
    INTENT_KIND_READ_NOTIFICATIONS: _ClassVar[IntentKind]
    INTENT_KIND_TAKE_NOTE: _ClassVar[IntentKind]
    INTENT_KIND_START_MEETING_NOTES: _ClassVar[IntentKind]
    INTENT_KIND_STOP_MEETING_NOTES: _ClassVar[IntentKind]
    INTENT_KIND_WHAT_IS_THIS: _ClassVar[IntentKind]
    INTENT_KIND_START_CONVERSATION_TRANSLATION: _ClassVar[IntentKind]
    INTENT_KIND_STOP_CONVERSATION_TRANSLATION: _ClassVar[IntentKind]
    INTENT_KIND_ASK: _ClassVar[IntentKind]

class Button(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BUTTON_UNSPECIFIED: _ClassVar[Button]
    BUTTON_CAPTURE: _ClassVar[Button]
    BUTTON_TOUCHPAD: _ClassVar[Button]
    BUTTON_ACTION: _ClassVar[Button]

class GestureKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    GESTURE_KIND_UNSPECIFIED: _ClassVar[GestureKind]
    GESTURE_KIND_SWIPE_FORWARD: _ClassVar[GestureKind]
    GESTURE_KIND_SWIPE_BACK: _ClassVar[GestureKind]
    GESTURE_KIND_DOUBLE_TAP: _ClassVar[GestureKind]
    GESTURE_KIND_NOD: _ClassVar[GestureKind]
    GESTURE_KIND_HEAD_SHAKE: _ClassVar[GestureKind]
INTENT_KIND_UNSPECIFIED: IntentKind
INTENT_KIND_BUY: IntentKind
INTENT_KIND_CANCEL: IntentKind
INTENT_KIND_TRANSLATE: IntentKind
INTENT_KIND_TAKE_PHOTO: IntentKind
INTENT_KIND_PRICE_CHECK: IntentKind
INTENT_KIND_ADD_TO_CART: IntentKind
INTENT_KIND_CONFIRM: IntentKind
INTENT_KIND_NAVIGATE: IntentKind
INTENT_KIND_STOP_NAVIGATION: IntentKind
INTENT_KIND_SET_REMINDER: IntentKind
INTENT_KIND_SCHEDULE: IntentKind
INTENT_KIND_NEXT_EVENT: IntentKind
INTENT_KIND_READ_NOTIFICATIONS: IntentKind
INTENT_KIND_TAKE_NOTE: IntentKind
INTENT_KIND_START_MEETING_NOTES: IntentKind
INTENT_KIND_STOP_MEETING_NOTES: IntentKind
INTENT_KIND_WHAT_IS_THIS: IntentKind
INTENT_KIND_START_CONVERSATION_TRANSLATION: IntentKind
INTENT_KIND_STOP_CONVERSATION_TRANSLATION: IntentKind
INTENT_KIND_ASK: IntentKind
BUTTON_UNSPECIFIED: Button
BUTTON_CAPTURE: Button
BUTTON_TOUCHPAD: Button
BUTTON_ACTION: Button
GESTURE_KIND_UNSPECIFIED: GestureKind
GESTURE_KIND_SWIPE_FORWARD: GestureKind
GESTURE_KIND_SWIPE_BACK: GestureKind
GESTURE_KIND_DOUBLE_TAP: GestureKind
GESTURE_KIND_NOD: GestureKind
GESTURE_KIND_HEAD_SHAKE: GestureKind

class DeviceInput(_message.Message):
    __slots__ = ("meta", "text", "voice_intent", "button", "gesture", "confirmation", "privacy")
    META_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    VOICE_INTENT_FIELD_NUMBER: _ClassVar[int]
    BUTTON_FIELD_NUMBER: _ClassVar[int]
    GESTURE_FIELD_NUMBER: _ClassVar[int]
    CONFIRMATION_FIELD_NUMBER: _ClassVar[int]
    PRIVACY_FIELD_NUMBER: _ClassVar[int]
    meta: _common_pb2.EventMeta
    text: TextInput
    voice_intent: VoiceIntent
    button: ButtonPress
    gesture: Gesture
    confirmation: Confirmation
    privacy: PrivacyModeRequest
    def __init__(self, meta: _Optional[_Union[_common_pb2.EventMeta, _Mapping]] = ..., text: _Optional[_Union[TextInput, _Mapping]] = ..., voice_intent: _Optional[_Union[VoiceIntent, _Mapping]] = ..., button: _Optional[_Union[ButtonPress, _Mapping]] = ..., gesture: _Optional[_Union[Gesture, _Mapping]] = ..., confirmation: _Optional[_Union[Confirmation, _Mapping]] = ..., privacy: _Optional[_Union[PrivacyModeRequest, _Mapping]] = ...) -> None: ...

class TextInput(_message.Message):
    __slots__ = ("text", "language")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    text: str
    language: str
    def __init__(self, text: _Optional[str] = ..., language: _Optional[str] = ...) -> None: ...

class VoiceIntent(_message.Message):
    __slots__ = ("kind", "transcript", "reference_id", "slots")
    class SlotsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    KIND_FIELD_NUMBER: _ClassVar[int]
    TRANSCRIPT_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_ID_FIELD_NUMBER: _ClassVar[int]
    SLOTS_FIELD_NUMBER: _ClassVar[int]
    kind: IntentKind
    transcript: str
    reference_id: str
    slots: _containers.ScalarMap[str, str]
    def __init__(self, kind: _Optional[_Union[IntentKind, str]] = ..., transcript: _Optional[str] = ..., reference_id: _Optional[str] = ..., slots: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ButtonPress(_message.Message):
    __slots__ = ("button", "long_press")
    BUTTON_FIELD_NUMBER: _ClassVar[int]
    LONG_PRESS_FIELD_NUMBER: _ClassVar[int]
    button: Button
    long_press: bool
    def __init__(self, button: _Optional[_Union[Button, str]] = ..., long_press: _Optional[bool] = ...) -> None: ...

class Gesture(_message.Message):
    __slots__ = ("kind",)
    KIND_FIELD_NUMBER: _ClassVar[int]
    kind: GestureKind
    def __init__(self, kind: _Optional[_Union[GestureKind, str]] = ...) -> None: ...

class Confirmation(_message.Message):
    __slots__ = ("reference_id", "approved", "challenge")
    REFERENCE_ID_FIELD_NUMBER: _ClassVar[int]
    APPROVED_FIELD_NUMBER: _ClassVar[int]
    CHALLENGE_FIELD_NUMBER: _ClassVar[int]
    reference_id: str
    approved: bool
    challenge: str
    def __init__(self, reference_id: _Optional[str] = ..., approved: _Optional[bool] = ..., challenge: _Optional[str] = ...) -> None: ...

class PrivacyModeRequest(_message.Message):
    __slots__ = ("enabled",)
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    enabled: bool
    def __init__(self, enabled: _Optional[bool] = ...) -> None: ...

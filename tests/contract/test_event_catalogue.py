"""Rules every event of the contract keeps, checked over all messages."""

import importlib
import pkgutil

import pytest
import sightline.v1
from google.protobuf.descriptor import FieldDescriptor

MODULES = [
    importlib.import_module(f"sightline.v1.{m.name}") for m in pkgutil.iter_modules(sightline.v1.__path__) if m.name.endswith("_pb2")
]
MESSAGES = {d.full_name: d for mod in MODULES for d in mod.DESCRIPTOR.message_types_by_name.values()}
ENUMS = {d.full_name: d for mod in MODULES for d in mod.DESCRIPTOR.enum_types_by_name.values()}
EVENTS = {name: d for name, d in MESSAGES.items() if "meta" in d.fields_by_name}

# The events the system exchanges (issue 2, "Contracts"): one per flow step.
REQUIRED_EVENTS = {
    "AudioFrame",
    "Transcript",
    "Translation",
    "PhotoCaptured",
    "PhotoStored",
    "VisionResult",
    "DisplayUpdate",
    "DeviceInput",
    "Offer",
    "OrderUpdated",
    "PaymentIntent",
    "PaymentResult",
    "ErrorEvent",
    "AuditRecord",
}


def test_every_flow_has_its_event():
    assert {name.split(".")[-1] for name in EVENTS} >= REQUIRED_EVENTS


@pytest.mark.parametrize("name", sorted(EVENTS))
def test_every_event_opens_with_event_meta_as_field_1(name):
    meta = EVENTS[name].fields_by_name["meta"]
    assert meta.number == 1
    assert meta.message_type.full_name == "sightline.v1.EventMeta"


def test_event_meta_has_id_device_sequence_and_timestamp():
    meta = MESSAGES["sightline.v1.EventMeta"].fields_by_name
    assert meta["event_id"].type == FieldDescriptor.TYPE_STRING
    assert meta["device_id"].type == FieldDescriptor.TYPE_STRING
    assert meta["seq"].type == FieldDescriptor.TYPE_UINT64
    assert meta["created_at"].message_type.full_name == "google.protobuf.Timestamp"


@pytest.mark.parametrize("name", sorted(ENUMS))
def test_every_enum_starts_with_unspecified(name):
    zero = ENUMS[name].values_by_number[0]
    assert zero.name.endswith("_UNSPECIFIED")


def test_display_updates_cover_every_hud_content_kind():
    content = {f.name for f in MESSAGES["sightline.v1.DisplayUpdate"].oneofs_by_name["content"].fields}
    assert content >= {"caption", "labels", "card", "panel", "status", "clear"}


def test_device_inputs_cover_text_voice_button_gesture_confirmation():
    kinds = {f.name for f in MESSAGES["sightline.v1.DeviceInput"].oneofs_by_name["input"].fields}
    assert kinds >= {"text", "voice_intent", "button", "gesture", "confirmation", "privacy"}


def test_vision_text_regions_carry_boxes_and_money_is_never_a_float():
    assert MESSAGES["sightline.v1.TextRegion"].fields_by_name["box"].message_type.full_name == "sightline.v1.Box"
    money = MESSAGES["sightline.v1.Money"].fields_by_name
    assert money["minor_units"].type == FieldDescriptor.TYPE_INT64
    for message in MESSAGES.values():
        for field in message.fields:
            if field.name in ("amount", "price", "total"):
                assert field.message_type is not None
                assert field.message_type.full_name == "sightline.v1.Money", message.full_name

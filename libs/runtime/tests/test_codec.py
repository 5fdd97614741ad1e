import pytest
from sightline.v1.common_pb2 import EventMeta
from sightline.v1.errors_pb2 import ErrorCode
from sightline.v1.input_pb2 import DeviceInput, TextInput
from sightline_runtime.codec import EventRejected, decode_event
from sightline_runtime.events import new_meta


def _input(device="a", text="hi"):
    return DeviceInput(meta=new_meta(device, "glasses"), text=TextInput(text=text))


def _code(payload, *, max_bytes=1024, subject_device="a"):
    with pytest.raises(EventRejected) as info:
        decode_event(DeviceInput, payload, max_bytes=max_bytes, subject_device=subject_device)
    return info.value


def test_a_valid_event_decodes():
    event = _input()
    decoded = decode_event(DeviceInput, event.SerializeToString(), max_bytes=1024, subject_device="a")
    assert decoded == event


def test_size_is_checked_before_parsing():
    rejected = _code(b"\xff" * 2000, max_bytes=1000)
    assert rejected.code == ErrorCode.ERROR_CODE_OVERSIZED
    assert rejected.reason == "oversized"


@pytest.mark.parametrize("payload", [b"\xff\xff\xff", b"\x0a\x05ab", b"\x08" + b"\x80" * 11])
def test_garbage_is_malformed(payload):
    assert _code(payload).code == ErrorCode.ERROR_CODE_MALFORMED


def test_an_event_without_id_is_invalid():
    event = DeviceInput(meta=EventMeta(device_id="a"), text=TextInput(text="x"))
    assert _code(event.SerializeToString()).code == ErrorCode.ERROR_CODE_INVALID


def test_empty_payload_is_invalid_not_a_crash():
    assert _code(b"").code == ErrorCode.ERROR_CODE_INVALID


def test_an_event_naming_another_device_than_its_subject_is_a_forgery():
    rejected = _code(_input(device="b").SerializeToString(), subject_device="a")
    assert rejected.code == ErrorCode.ERROR_CODE_DEVICE_MISMATCH
    assert rejected.device_id == "a"


def test_a_device_id_that_is_not_a_subject_token_is_invalid():
    event = DeviceInput(meta=EventMeta(event_id="e1", device_id="a.b"), text=TextInput(text="x"))
    assert _code(event.SerializeToString(), subject_device=None).code == ErrorCode.ERROR_CODE_INVALID

"""The glasses' own side of the command down-link, without a server: the
checks a DeviceCommand passes, the bounded memory of event ids, the camera
source and the conversation's languages."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from sightline.v1.device_pb2 import ConversationTranslation, DeviceCommand, TakePhoto
from sightline_glasses.camera import Camera, CameraError
from sightline_glasses.commands import CommandInbox, CommandRefused, RecentIds, read_command
from sightline_glasses.conversation import Conversation
from sightline_glasses.photos import PhotoError
from sightline_runtime.events import new_meta

SUBJECT = "glasses.a.down.command"
LIMITS = {"max_bytes": 1 << 20, "max_pixels": 10_000_000}


def jpeg(color: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(buffer, "JPEG")
    return buffer.getvalue()


def photo_command(device: str = "a") -> DeviceCommand:
    return DeviceCommand(meta=new_meta(device, "assistant"), take_photo=TakePhoto(purpose="translate"))


def test_a_good_command_reads_back_whole():
    command = photo_command()
    read = read_command(command.SerializeToString(), SUBJECT, "a", max_bytes=4096, max_age_s=60)
    assert read == command


@pytest.mark.parametrize(("subject", "device"), [("glasses.b.down.command", "a"), ("glasses.a.down.command", "b"), ("nonsense", "a")])
def test_a_command_on_a_subject_that_is_not_its_own_is_refused(subject, device):
    with pytest.raises(CommandRefused) as refused:
        read_command(photo_command().SerializeToString(), subject, device, max_bytes=4096, max_age_s=60)
    assert refused.value.reason == "wrong_subject"


def test_an_oversized_command_is_refused_before_it_is_parsed():
    with pytest.raises(CommandRefused, match="over the 256-byte command limit") as refused:
        read_command(b"\xff" * 257, SUBJECT, "a", max_bytes=256, max_age_s=60)
    assert refused.value.reason == "oversized"


def test_a_future_command_is_accepted_and_an_old_one_is_a_replay():
    command = photo_command()
    created = command.meta.created_at.ToNanoseconds() / 1e9
    data = command.SerializeToString()
    # Glasses' clocks drift: a command "from the future" is not refused for it.
    assert read_command(data, SUBJECT, "a", max_bytes=4096, max_age_s=60, now_s=created - 120) == command
    with pytest.raises(CommandRefused, match="a replay") as refused:
        read_command(data, SUBJECT, "a", max_bytes=4096, max_age_s=60, now_s=created + 61)
    assert (refused.value.reason, refused.value.event_id) == ("stale", command.meta.event_id)


def test_translation_off_needs_no_languages_and_an_empty_source_means_detect():
    off = DeviceCommand(meta=new_meta("a", "assistant"), conversation_translation=ConversationTranslation(enabled=False))
    detect = DeviceCommand(
        meta=new_meta("a", "assistant"), conversation_translation=ConversationTranslation(enabled=True, target_language="zh-Hans")
    )
    for command in (off, detect):
        assert read_command(command.SerializeToString(), SUBJECT, "a", max_bytes=4096, max_age_s=60) == command


def test_the_memory_of_event_ids_is_bounded_and_forgets_the_oldest():
    recent = RecentIds(3)
    assert [recent.add(x) for x in "abc"] == [True, True, True]
    assert not recent.add("a")  # seen; now the newest
    assert recent.add("d")  # "b" is forgotten
    assert len(recent) == 3
    assert recent.add("b")
    assert not recent.add("d")
    with pytest.raises(ValueError, match="at least one"):
        RecentIds(0)


def test_the_inbox_admits_a_command_once_and_counts_the_rest():
    inbox = CommandInbox("a", max_bytes=4096, memory=8, max_age_s=60)
    command = photo_command()
    data = command.SerializeToString()
    assert inbox.admit(data, SUBJECT) == command
    assert inbox.admit(data, SUBJECT) is None
    assert inbox.admit(b"\x00garbage", SUBJECT) is None
    inbox.done(command, "done")
    assert dict(inbox.counts) == {"duplicate": 1, "undecodable": 1, "done": 1}


def test_a_camera_folder_is_used_in_name_order_cycling_and_sees_new_images(tmp_path):
    red, green = jpeg((255, 0, 0)), jpeg((0, 255, 0))
    (tmp_path / "b.jpg").write_bytes(green)
    (tmp_path / "a.JPG").write_bytes(red)
    (tmp_path / "readme.md").write_text("skipped")
    camera = Camera(tmp_path, **LIMITS)
    shots = [camera.shoot() for _ in range(3)]
    assert [path.name for path, _ in shots] == ["a.JPG", "b.jpg", "a.JPG"]
    assert [photo.data for _, photo in shots] == [red, green, red]
    (tmp_path / "c.png").write_bytes(b"a shopping list, not an image")  # checked like any photo when its turn comes
    assert [camera.shoot()[0].name for _ in range(2)] == ["a.JPG", "b.jpg"]
    with pytest.raises(PhotoError, match="not a JPEG or PNG"):
        camera.shoot()


def test_a_camera_source_that_cannot_shoot_is_refused_at_once(tmp_path):
    with pytest.raises(CameraError, match="no such file or folder"):
        Camera(tmp_path / "missing", **LIMITS)
    (tmp_path / "empty").mkdir()
    with pytest.raises(CameraError, match=r"no \.jpg, \.jpeg or \.png"):
        Camera(tmp_path / "empty", **LIMITS)
    single = tmp_path / "one.jpg"
    single.write_bytes(jpeg((9, 9, 9)))
    camera = Camera(single, **LIMITS)
    assert [camera.shoot()[1].data for _ in range(2)] == [single.read_bytes()] * 2


def test_the_conversation_goes_back_to_its_starting_languages_when_translation_stops():
    conversation = Conversation("en", "")
    conversation.start(source="zh", target="en")
    assert (conversation.current.source, conversation.current.target, conversation.translating) == ("zh", "en", True)
    version = conversation.version
    conversation.start(source="zh", target="en")
    assert conversation.version == version, "no change, no new microphone stream"
    conversation.stop()
    assert (conversation.current.source, conversation.current.target, conversation.translating) == ("en", "", False)

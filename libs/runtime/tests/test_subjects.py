import pytest
from hypothesis import given
from hypothesis import strategies as st
from sightline_runtime import subjects

valid_ids = st.from_regex(subjects.DEVICE_ID_PATTERN, fullmatch=True)


@given(valid_ids)
def test_every_valid_device_id_round_trips_through_its_subjects(device_id):
    for subject in (
        subjects.up_input(device_id),
        subjects.up_audio(device_id),
        subjects.up_photo(device_id),
        subjects.down_display(device_id),
        subjects.domain("asr", "final", device_id),
        subjects.errors("overlay", device_id),
    ):
        assert subjects.device_token(subject) == device_id


@pytest.mark.parametrize(
    "bad",
    ["", "a.b", "a*", ">", "a b", "-lead", "x" * 65, "dev\n", "ünï", "$JS", "a\x00"],
)
def test_device_ids_that_could_escape_their_token_are_refused(bad):
    with pytest.raises(subjects.InvalidDeviceId):
        subjects.up_input(bad)


@pytest.mark.parametrize(
    "subject",
    ["glasses.a", "glasses.a.sideways.input", "dlq.overlay.device_input", "$JS.API.INFO", "_INBOX.x.y", "plain"],
)
def test_subjects_without_a_device_token_give_none(subject):
    assert subjects.device_token(subject) is None


def test_errors_subject_uses_a_placeholder_for_unknown_or_invalid_devices():
    assert subjects.errors("overlay", None) == "errors.overlay._"
    assert subjects.errors("overlay", "bad.device") == "errors.overlay._"

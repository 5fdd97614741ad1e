import pytest
from sightline_assistant.domain.wake import Wake, WakePhrases


@pytest.fixture
def wake() -> WakePhrases:
    return WakePhrases()


@pytest.mark.parametrize(
    ("transcript", "command"),
    [
        ("Hey Sightline, take a photo.", "take a photo."),
        ("hey sightline take a photo", "take a photo"),
        ("hey sight line take a photo", "take a photo"),
        ("Hey, Sight-Line! what's next", "what's next"),
        ("HEY SIGHTLINE: navigate to the station", "navigate to the station"),
        ("um, hey sightline what is this", "what is this"),
        ("你好 sightline 拍照", "拍照"),
        ("你好，Sightline，帮我拍张照片", "帮我拍张照片"),
        ("你好sightline。明天早上九点提醒我开会", "明天早上九点提醒我开会"),
    ],
)
def test_wake_phrase_is_stripped(wake: WakePhrases, transcript: str, command: str) -> None:
    assert wake.command(transcript) == command


@pytest.mark.parametrize(
    "transcript",
    ["take a photo", "I said hey sightline yesterday", "你好 今天天气不错", "", "   ", "!!!"],
)
def test_captions_are_not_commands(wake: WakePhrases, transcript: str) -> None:
    assert wake.command(transcript) is None


def test_only_the_wake_phrase_opens_command_mode(wake: WakePhrases) -> None:
    assert wake.command("Hey Sightline.") == ""
    assert wake.command("你好，sightline！") == ""


def test_configured_phrases_replace_the_defaults() -> None:
    wake = WakePhrases(["ok glasses", "眼镜眼镜"])
    assert wake.command("OK, glasses: take a photo") == "take a photo"
    assert wake.command("眼镜眼镜 拍照") == "拍照"
    assert wake.command("hey sightline take a photo") is None


def test_longest_phrase_wins() -> None:
    wake = WakePhrases(["hey", "hey sightline"])
    assert wake.command("hey sightline take a photo") == "take a photo"


def test_a_phrase_without_letters_is_refused() -> None:
    with pytest.raises(ValueError, match="wake phrases"):
        WakePhrases(["!!!"])
    with pytest.raises(ValueError, match="wake phrases"):
        WakePhrases([])


def test_symbols_after_the_phrase_are_said_not_the_phrase_alone(wake: WakePhrases) -> None:
    assert wake.command("Hey Sightline 🤖") == "🤖"


@pytest.mark.parametrize(
    ("transcript", "command"),
    [
        ("Hayside Line, take a photo.", "take a photo."),
        ("Hey, sidelined, what is next?", "what is next?"),
        ("um, Hazeide Line read my notifications.", "read my notifications."),
        ("High side line.", ""),
    ],
)
def test_the_phrase_as_the_recogniser_spelled_it_is_heard_by_sound(wake: WakePhrases, transcript: str, command: str) -> None:
    assert wake.heard(transcript) == Wake(command, by_sound=True)


def test_a_longer_word_is_only_heard_by_sound(wake: WakePhrases) -> None:
    assert wake.heard("Hey Sightline, take a photo") == Wake("take a photo")
    # What the recogniser writes for "Hey, Sightline. Start ...": the handler obeys only a clear command after it.
    assert wake.heard("Hey, sightlines start conversation translation") == Wake("start conversation translation", by_sound=True)
    assert wake.heard("hey sightlines are nice") == Wake("are nice", by_sound=True)
    assert wake.heard("Hey Stella, how are you?") is None

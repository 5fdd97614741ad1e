"""Wake phrases by sound: what Moonshine wrote for espeak-ng's "Hey Sightline" (recorded
in the spoken tests) wakes; greetings and near misses do not."""

import pytest
from sightline_assistant.domain.sounds_like import SoundsLike


@pytest.fixture
def hey() -> SoundsLike:
    return SoundsLike("hey sightline")


@pytest.mark.parametrize(
    ("heard", "rest"),
    [
        ("Hayside Line, take a photo.", ", take a photo."),
        ("Hey, sidelined, what is next?", ", what is next?"),
        ("Hey, sidelines, cancel!", ", cancel!"),
        ("Hazeide Line read my notifications.", " read my notifications."),
        ("High side line, what is next?", ", what is next?"),
        ("High sidesline, what is next?", ", what is next?"),
        ("Highside line, what is next?", ", what is next?"),
    ],
)
def test_what_the_recogniser_wrote_for_the_phrase_matches(hey: SoundsLike, heard: str, rest: str) -> None:
    match = hey.match(heard)
    assert match is not None, heard
    assert heard[match.end :] == rest
    assert match.distance <= 1


@pytest.mark.parametrize(
    "heard",
    [
        "Hey Stella, how are you?",  # a sound missing
        "Hey, so I'd like a coffee.",
        "Hey, side note: the train is late.",
        "Side line markings are white.",  # another first sound
        "Case I explained what is this.",
        "Okay, sides, I'm by this.",
        "I said hey sightline yesterday",  # not at the start
        "",
        "拍照",
    ],
)
def test_greetings_and_near_misses_do_not(hey: SoundsLike, heard: str) -> None:
    assert hey.match(heard) is None


def test_the_match_starts_where_it_is_asked_to() -> None:
    hey = SoundsLike("hey sightline")
    match = hey.match("um, Hayside Line, buy this", start=3)
    assert match is not None
    assert match.end == len("um, Hayside Line")


def test_short_and_non_latin_phrases() -> None:
    assert not SoundsLike("ok go").usable
    assert SoundsLike("ok go").match("OK go, take a photo") is None
    with pytest.raises(ValueError, match="Latin-script"):
        SoundsLike("你好 sightline")

"""Personal data read off photos is masked; ordinary text is not touched."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sightline_vision.domain.pii import luhn_valid, mask_personal_data


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("电话 13812345678", "13812345678"),
        ("手机：138 1234 5678 欢迎来电", "138 1234 5678"),
        ("热线159-0000-1234", "159-0000-1234"),
        ("call +86 139 1234 5678 now", "+86 139 1234 5678"),
        ("Tel: +44 20 7946 0958", "+44 20 7946 0958"),
        ("Phone +1 (415) 555-0100.", "+1 (415) 555-0100"),
        ("mail anna.li@example.com today", "anna.li@example.com"),
        ("邮箱：wang_wei+shop@mail.example.cn", "wang_wei+shop@mail.example.cn"),
        ("Card 4111 1111 1111 1111 exp 12/29", "4111 1111 1111 1111"),
        ("amex 378282246310005", "378282246310005"),
    ],
)
def test_personal_data_is_masked_keeping_length(text: str, secret: str) -> None:
    masked, changed = mask_personal_data(text)
    assert changed
    start = text.index(secret)
    # Only the secret is masked, one "*" per character: the words around it stay.
    assert masked == text[:start] + "*" * len(secret) + text[start + len(secret) :]


def _with_luhn_digit(body: str) -> str:
    for last in "0123456789":
        if luhn_valid(body + last):
            return body + last
    raise AssertionError("unreachable: one check digit always fits")


@pytest.mark.parametrize("body", ["622202123456789901", "40128888888818", "355800000000000"])
def test_card_numbers_of_13_to_19_digits_with_dashes_are_masked(body: str) -> None:
    number = _with_luhn_digit(body)
    dashed = "-".join(number[i : i + 4] for i in range(0, len(number), 4))
    text = f"卡号{dashed}，谢谢"
    assert mask_personal_data(text) == (f"卡号{'*' * len(dashed)}，谢谢", True)


def test_card_numbers_must_pass_luhn() -> None:
    assert luhn_valid("4111111111111111")
    assert not luhn_valid("4111111111111112")
    text = "Order 4111 1111 1111 1112 shipped"
    assert mask_personal_data(text) == (text, False)


@pytest.mark.parametrize(
    "text",
    [
        "出口",
        "禁止吸烟",
        "营业时间 09:00-21:30",
        "牛肉面 ¥28 / 大碗 ¥32",
        "2026-12-03 14:30",
        "Platform 3, trains every 10 min",
        "Room 1204, floor 12",
        "ISBN 978-3-16",
        "price: 1,299.00 CNY",
        "a@b",
        "email me at the front desk",
        "12345678",  # an 8-digit number is not a phone, card or address
        "10086",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert mask_personal_data(text) == (text, False)


# What signs and menus say: words of letters or Han characters, each maybe
# followed by a short number (at most 6 digits) or a price, time or floor,
# with punctuation between them. A number always follows a word, so no run
# of digits grows into a phone or card number.
_word = st.one_of(
    st.text(alphabet=st.characters(categories=("Lu", "Ll")), min_size=1, max_size=10),
    st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), min_size=1, max_size=6),
)
_number = st.one_of(
    st.just(""),
    st.integers(min_value=0, max_value=999_999).map(lambda n: f" {n}"),
    st.sampled_from([" ¥28", " 09:00-21:30", " 3F", " No.5", " 12/29", " 50%", " €4.50", " 2026-12-03"]),
)
_separator = st.sampled_from([" ", ", ", "、", "：", " / ", "。", " | ", "\n", " @ "])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_word, _number, _separator), max_size=12))
def test_property_ordinary_text_is_unchanged(parts: list[tuple[str, str, str]]) -> None:
    text = "".join(word + number + sep for word, number, sep in parts)
    assert mask_personal_data(text) == (text, False)


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet=st.characters(categories=("Lu", "Ll", "Lo", "Zs")), max_size=20),
    st.integers(min_value=3, max_value=9),
    st.integers(min_value=0, max_value=99_999_999),
    st.text(alphabet=st.characters(categories=("Lu", "Ll", "Lo", "Zs")), max_size=20),
)
def test_property_any_chinese_mobile_is_masked(before: str, second: int, rest: int, after: str) -> None:
    number = f"1{second}{rest:09d}"
    masked, changed = mask_personal_data(before + number + after)
    assert changed
    assert masked == before + "*" * len(number) + after

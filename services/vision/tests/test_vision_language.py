"""The language of a text region, by its script."""

from __future__ import annotations

import pytest
from sightline_vision.domain.language import text_language


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("出口", "zh"),
        ("禁止吸烟 No Smoking", "zh"),  # the Chinese is what the wearer cannot read
        ("收银台", "zh"),
        ("營業時間", "zh"),  # traditional characters
        ("EXIT", "en"),
        ("Open 24 Hours", "en"),
        ("Café Crème", "en"),
        ("Exit 出", "en"),
        ("123 456", ""),
        ("¥28.00", ""),
        ("", ""),
        ("   ", ""),
    ],
)
def test_text_language(text: str, language: str) -> None:
    assert text_language(text) == language

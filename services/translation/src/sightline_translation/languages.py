"""Language names for prompts; tags and pairs come from the runtime."""

from __future__ import annotations

from sightline_runtime.languages import InvalidLanguage, Pair, parse_pair, primary

__all__ = ["LANGUAGE_NAMES", "InvalidLanguage", "Pair", "parse_pair", "primary"]

# Names the chat-completions prompt uses; unknown codes are sent as they are.
LANGUAGE_NAMES = {
    "ca": "Catalan",
    "de": "German",
    "en": "English",
    "es": "Spanish",
    "fr": "French",
    "it": "Italian",
    "ja": "Japanese",
    "ko": "Korean",
    "pt": "Portuguese",
    "ru": "Russian",
    "zh": "Chinese",
}


def language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(code, code)

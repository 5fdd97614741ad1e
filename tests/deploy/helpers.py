"""Paths, names and small helpers shared by the deploy tests."""

from __future__ import annotations

import subprocess
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
# Services deployed as a StatefulSet (replica identity = pod ordinal); the rest are Deployments.
STATEFUL = ("asr",)
WORKLOAD_KINDS = ("Deployment", "StatefulSet")
OVERLAYS = ("base", "overlays/dev", "overlays/prod")

Doc = dict[str, Any]


def kustomize(kubectl: str, target: Path) -> list[Doc]:
    result = subprocess.run([kubectl, "kustomize", str(target)], capture_output=True, text=True, timeout=60, check=False)
    if result.returncode != 0:
        pytest.fail(f"kubectl kustomize {target} failed:\n{result.stderr}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def find(docs: list[Doc], kind: str, name: str) -> Doc:
    matches = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind}/{name}, found {len(matches)}"
    return matches[0]


def workload(docs: list[Doc], service: str) -> Doc:
    """The service's workload: its StatefulSet if it is in STATEFUL, else its Deployment (and never both)."""
    matches = [d for d in docs if d["kind"] in WORKLOAD_KINDS and d["metadata"]["name"] == service]
    assert len(matches) == 1, f"expected one workload named {service}, found {[d['kind'] for d in matches]}"
    expected = "StatefulSet" if service in STATEFUL else "Deployment"
    assert matches[0]["kind"] == expected, f"{service} should be a {expected}, is a {matches[0]['kind']}"
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

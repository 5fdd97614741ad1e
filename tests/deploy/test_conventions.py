"""The conventions every service's manifests follow, checked on what kustomize
really renders for base, dev and prod, and against the code they deploy: probe
paths are the runtime's real routes, every SIGHTLINE_ variable is a real
setting, ports are the ones the settings name."""

from __future__ import annotations

import importlib
import re

import pytest
from prometheus_client import CollectorRegistry
from sightline_runtime.http import Readiness, health_routes
from sightline_runtime.settings import ServiceSettings

from tests.deploy.helpers import K8S, OVERLAYS, SERVICES, SLOW_STARTERS, Doc, effective_env, find

ROUTES = {path for path, _ in health_routes("probe", Readiness(), CollectorRegistry())}
UNITS = {"m": 1e-3, "": 1, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}


def quantity(value: str | int) -> float:
    number, unit = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", str(value)).groups()
    return float(number) * UNITS[unit]


def settings_class(service: str) -> type[ServiceSettings]:
    module = importlib.import_module(f"sightline_{service}.settings")
    found = [v for v in vars(module).values() if isinstance(v, type) and issubclass(v, ServiceSettings) and v is not ServiceSettings]
    assert len(found) == 1, f"sightline_{service}.settings should define one ServiceSettings subclass, found {found}"
    return found[0]


def container_of(docs: list[Doc], service: str) -> tuple[Doc, Doc, Doc]:
    deployment = find(docs, "Deployment", service)
    pod = deployment["spec"]["template"]["spec"]
    assert len(pod["containers"]) == 1, f"{service}: one container per pod"
    return deployment, pod, pod["containers"][0]


CASES = [(target, service) for target in OVERLAYS for service in SERVICES]


@pytest.mark.parametrize(("target", "service"), CASES)
def test_names_and_labels(render, target: str, service: str) -> None:
    docs = render(target)
    deployment, _pod, container = container_of(docs, service)
    labels = {"app.kubernetes.io/name": service, "app.kubernetes.io/part-of": "sightline"}
    assert labels.items() <= deployment["metadata"]["labels"].items()
    assert labels.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    assert deployment["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/name": service}
    assert container["name"] == service
    repository = container["image"].rsplit(":", 1)[0] if ":" in container["image"].rsplit("/", 1)[-1] else container["image"]
    assert repository.rsplit("/", 1)[-1] == service, f"image {container['image']} should be named {service}"
    svc = find(docs, "Service", service)
    assert svc["spec"]["selector"] == {"app.kubernetes.io/name": service}
    assert {"name": "http", "port": 8080, "targetPort": "http"} in svc["spec"]["ports"]


@pytest.mark.parametrize(("target", "service"), CASES)
def test_ports_and_probes_match_the_code(render, target: str, service: str) -> None:
    docs = render(target)
    deployment, _pod, container = container_of(docs, service)
    env = effective_env(docs, container)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": int(env["SIGHTLINE_HTTP_PORT"]), "grpc-health": int(env["SIGHTLINE_GRPC_HEALTH_PORT"])}
    assert ports == {"http": 8080, "grpc-health": 8081}

    for kind in ("startupProbe", "livenessProbe"):
        probe = container[kind]["httpGet"]
        assert probe["path"] == "/healthz", f"{kind} must hit the liveness route"
        assert probe["path"] in ROUTES
        assert ports[probe["port"]] == 8080
    assert container["readinessProbe"]["grpc"]["port"] == ports["grpc-health"], "readiness = the gRPC health service"

    startup = container["startupProbe"]
    window = startup["periodSeconds"] * startup["failureThreshold"]
    # HTTP comes up only after start-up: NATS connected, streams ensured, models loaded (slow ones).
    assert window >= (240 if service in SLOW_STARTERS else 60), f"{service}: startup window {window}s"

    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] in ROUTES
    assert annotations["prometheus.io/path"] == "/metrics"
    assert int(annotations["prometheus.io/port"]) == ports["http"]


@pytest.mark.parametrize(("target", "service"), CASES)
def test_env_is_real_settings(render, target: str, service: str) -> None:
    docs = render(target)
    _, _, container = container_of(docs, service)
    env = effective_env(docs, container)
    fields = settings_class(service).model_fields
    for name in env:
        if name.startswith("SIGHTLINE_"):
            assert name.removeprefix("SIGHTLINE_").lower() in fields, f"{name} is not a setting of {service}"
        else:
            assert name.startswith("OTEL_"), f"unexpected variable {name}"
    assert env["SIGHTLINE_NATS_URL"] == "nats://nats:4222"
    assert any(p["port"] == 4222 for p in find(docs, "Service", "nats")["spec"]["ports"])
    assert env["SIGHTLINE_INSTANCE"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    # And the values parse: pydantic would refuse SIGHTLINE_HTTP_PORT=http, say.
    values = {k.removeprefix("SIGHTLINE_").lower(): v for k, v in env.items() if k.startswith("SIGHTLINE_") and isinstance(v, str)}
    settings_class(service)(**values)


@pytest.mark.parametrize(("target", "service"), CASES)
def test_shutdown_outlasts_graceful_timeout(render, target: str, service: str) -> None:
    docs = render(target)
    _, pod, container = container_of(docs, service)
    env = effective_env(docs, container)
    graceful = float(env.get("SIGHTLINE_GRACEFUL_TIMEOUT_S", settings_class(service).model_fields["graceful_timeout_s"].default))
    assert pod["terminationGracePeriodSeconds"] > graceful


@pytest.mark.parametrize(("target", "service"), CASES)
def test_hardened(render, target: str, service: str) -> None:
    _, pod, container = container_of(render(target), service)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    ctx = container["securityContext"]
    assert ctx["runAsNonRoot"] is True
    assert ctx["runAsUser"] == 10001
    assert ctx["allowPrivilegeEscalation"] is False
    assert ctx["capabilities"] == {"drop": ["ALL"]}
    assert ctx["seccompProfile"] == {"type": "RuntimeDefault"}
    # dev only: Tilt's live_update writes synced source into the container.
    assert ctx["readOnlyRootFilesystem"] is (target != "overlays/dev")
    tmp = next(v for v in pod["volumes"] if v["name"] == "tmp")
    assert "emptyDir" in tmp
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]


@pytest.mark.parametrize(("target", "service"), CASES)
def test_resources(render, target: str, service: str) -> None:
    _, _, container = container_of(render(target), service)
    resources = container["resources"]
    for key in ("cpu", "memory"):
        assert quantity(resources["requests"][key]) <= quantity(resources["limits"][key]), f"{service} {key}"


def test_prod_is_highly_available(render) -> None:
    docs = render("overlays/prod")
    hpas = {d["spec"]["scaleTargetRef"]["name"]: d for d in docs if d["kind"] == "HorizontalPodAutoscaler"}
    assert set(hpas) == {"overlay", "translation"}
    pdbs = {d["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] for d in docs if d["kind"] == "PodDisruptionBudget"}
    for service in SERVICES:
        deployment, pod, _ = container_of(docs, service)
        if service in hpas:
            assert "replicas" not in deployment["spec"], f"{service}: a fixed replicas field fights the HPA"
            assert hpas[service]["spec"]["minReplicas"] >= 2
        else:
            assert deployment["spec"]["replicas"] >= 2, service
        assert service in pdbs, f"{service} has no PodDisruptionBudget"
        keys = {c["topologyKey"] for c in pod["topologySpreadConstraints"]}
        assert keys == {"kubernetes.io/hostname", "topology.kubernetes.io/zone"}
    assert find(docs, "StatefulSet", "nats")["spec"]["replicas"] == 3
    assert "nats" in pdbs


def test_dev_runs_one_of_each(render) -> None:
    docs = render("overlays/dev")
    for service in SERVICES:
        assert find(docs, "Deployment", service)["spec"].get("replicas", 1) == 1
    assert find(docs, "StatefulSet", "nats")["spec"]["replicas"] == 1


def test_service_manifests_share_one_shape() -> None:
    """The six base files differ only in name, summary, resources and the startup window."""

    def shape(service: str) -> str:
        text = (K8S / "base" / f"{service}.yaml").read_text().splitlines()[1:]  # line 1: the service's summary
        text = [re.sub(r"(requests|limits|failureThreshold): .*", r"\1: X", line) for line in text if "HTTP answers only" not in line]
        return "\n".join(text).replace(service, "NAME")

    reference = shape(SERVICES[0])
    for service in SERVICES[1:]:
        assert shape(service) == reference, f"deploy/k8s/base/{service}.yaml drifted from {SERVICES[0]}.yaml"


def test_every_service_is_deployed() -> None:
    # A new services/<name> (other than the edge agent) must get manifests too.
    folders = {p.parent.name for p in (K8S.parents[1] / "services").glob("*/pyproject.toml")}
    assert folders - {"glasses"} == set(SERVICES)
    listed = (K8S / "base" / "kustomization.yaml").read_text()
    for service in SERVICES:
        assert f"- {service}.yaml" in listed

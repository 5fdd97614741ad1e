"""The conventions every service's manifests follow, checked on what kustomize
really renders for base, dev and prod, and against the code they deploy: probe
paths are the runtime's real routes, every SIGHTLINE_ variable is a real
setting, ports are the ones the settings name."""

from __future__ import annotations

import importlib
import re

import pytest
from prometheus_client import CollectorRegistry
from sightline_asr.bus import audio_subjects
from sightline_asr.settings import AsrSettings
from sightline_runtime import partitions
from sightline_runtime.http import Readiness, health_routes
from sightline_runtime.settings import ServiceSettings
from sightline_vision.settings import VisionSettings

from tests.deploy.helpers import K8S, OVERLAYS, SERVICES, SLOW_STARTERS, STATEFUL, Doc, effective_env, find, workload

ROUTES = {path for path, _ in health_routes("probe", Readiness(), CollectorRegistry())}
# Ports a service serves beyond the runtime's two, for integrations; all of them on its Service.
SERVICE_PORTS = {"grpc-library", "http-notify", "grpc-notify"}
# Variables other than SIGHTLINE_ (settings) and OTEL_ that a service's container may set, and why.
OTHER_ENV = {"assistant": {"HF_HUB_OFFLINE"}}  # all-MiniLM-L6-v2 ships in its package: never the hub
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
    """(workload, pod spec, container): the Deployment, or the StatefulSet for STATEFUL services."""
    deployment = workload(docs, service)
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
    # Every service: HTTP and the gRPC health service; vision also serves the photo library over gRPC,
    # the assistant its notification ingress over HTTP and gRPC.
    expected = {"http": int(env["SIGHTLINE_HTTP_PORT"]), "grpc-health": int(env["SIGHTLINE_GRPC_HEALTH_PORT"])}
    if service == "vision":
        expected["grpc-library"] = int(env["SIGHTLINE_LIBRARY_GRPC_PORT"])
        assert VisionSettings(**{"library_grpc_port": expected["grpc-library"]}).library_grpc_port == 8082
    if service == "assistant":
        expected["http-notify"] = int(env["SIGHTLINE_NOTIFY_HTTP_PORT"])
        expected["grpc-notify"] = int(env["SIGHTLINE_NOTIFY_GRPC_PORT"])
        settings = settings_class(service)(notify_http_port=expected["http-notify"], notify_grpc_port=expected["grpc-notify"])
        assert (settings.notify_http_port, settings.notify_grpc_port) == (8090, 8091)
    assert ports == expected
    assert {k: v for k, v in ports.items() if k not in SERVICE_PORTS} == {"http": 8080, "grpc-health": 8081}
    # What the service's own ports serve, its Service exposes under the same names; probes stay on the runtime's.
    service_ports = {p["name"]: p for p in find(docs, "Service", service)["spec"]["ports"]}
    for name in set(ports) & SERVICE_PORTS:
        assert service_ports.get(name) == {"name": name, "port": ports[name], "targetPort": name}, f"{service}: Service port {name}"

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
        elif name in OTHER_ENV.get(service, set()):
            assert env[name] == "1", f"{service}: {name} should be on"
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
    # A preStop sleep (the assistant's ingress takes Service traffic) comes before SIGTERM and the drain.
    pre_stop = container.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
    assert pod["terminationGracePeriodSeconds"] > pre_stop + graceful


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
    assert not set(hpas) & set(STATEFUL), "a replica count change moves devices between asr replicas: never autoscale it"
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
        assert workload(docs, service)["spec"].get("replicas", 1) == 1
    assert find(docs, "StatefulSet", "nats")["spec"]["replicas"] == 1


# What a StatefulSet adds to the common shape (asr: see test_asr_partition_ownership).
STATEFUL_ONLY = re.compile(r"\s*(serviceName|podManagementPolicy|clusterIP): .*")


def test_service_manifests_share_one_shape() -> None:
    """The six base files differ only in name, summary, resources and the startup
    window; a StatefulSet also in its kind, its own fields and its comments."""

    def shape(service: str, *, comments: bool = True) -> str:
        text = (K8S / "base" / f"{service}.yaml").read_text().splitlines()[1:]  # line 1: the service's summary
        text = [re.sub(r"(requests|limits|failureThreshold): .*", r"\1: X", line) for line in text if "HTTP answers only" not in line]
        if not comments:
            text = [line for line in text if not line.lstrip().startswith("#")]
        if service in STATEFUL:
            text = [line.replace("kind: StatefulSet", "kind: Deployment") for line in text if not STATEFUL_ONLY.fullmatch(line)]
        return "\n".join(text).replace(service, "NAME")

    reference = SERVICES[0]
    assert reference not in STATEFUL
    for service in SERVICES[1:]:
        stateful = service in STATEFUL
        assert shape(service, comments=not stateful) == shape(reference, comments=not stateful), (
            f"deploy/k8s/base/{service}.yaml drifted from {reference}.yaml"
        )


def test_every_service_is_deployed() -> None:
    # A new services/<name> (other than the edge agent) must get manifests too.
    folders = {p.parent.name for p in (K8S.parents[1] / "services").glob("*/pyproject.toml")}
    assert folders - {"glasses"} == set(SERVICES)
    listed = (K8S / "base" / "kustomization.yaml").read_text()
    for service in SERVICES:
        assert f"- {service}.yaml" in listed


@pytest.mark.parametrize("target", OVERLAYS)
def test_asr_partition_ownership(render, target: str) -> None:
    """asr is a StatefulSet whose pods asr-0..asr-<r-1> split the audio
    partitions: SIGHTLINE_ASR_REPLICAS equals the replica count in every
    target, the index comes from the pod name (never a fixed variable), and
    the replicas' subscriptions, as the service computes them, cover every
    partition exactly once."""
    docs = render(target)
    sts, _pod, container = container_of(docs, "asr")
    spec = sts["spec"]
    assert spec["podManagementPolicy"] == "Parallel", "a lost asr pod must not wait for the others to come back"
    headless = find(docs, "Service", spec["serviceName"])
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["selector"].items() <= spec["template"]["metadata"]["labels"].items()

    replicas = spec.get("replicas", 1)
    env = effective_env(docs, container)
    assert int(env["SIGHTLINE_ASR_REPLICAS"]) == replicas, f"{target}: SIGHTLINE_ASR_REPLICAS must equal the asr replica count"
    assert 1 <= replicas <= partitions.AUDIO_PARTITIONS
    assert "SIGHTLINE_ASR_REPLICA" not in env, "the replica index comes from the pod name, never a fixed variable"
    assert env["SIGHTLINE_INSTANCE"] == {"fieldRef": {"fieldPath": "metadata.name"}}

    values = {k.removeprefix("SIGHTLINE_").lower(): v for k, v in env.items() if k.startswith("SIGHTLINE_") and isinstance(v, str)}
    pods = [f"{sts['metadata']['name']}-{ordinal}" for ordinal in range(replicas)]  # the StatefulSet's pod names
    subscriptions = {pod: audio_subjects(AsrSettings(**values, instance=pod), pod) for pod in pods}
    for partition in range(partitions.AUDIO_PARTITIONS):
        mapped = f"glasses.some-device.up.audio.{partition}"  # what the hub's mapping publishes
        owners = [pod for pod, subs in subscriptions.items() if any(subject_matches(sub, mapped) for sub in subs)]
        assert owners == [f"asr-{partition % replicas}"], f"{target}: partition {partition} is consumed by {owners}"


def subject_matches(pattern: str, subject: str) -> bool:
    """NATS subject matching (* one token, > the rest)."""
    want, got = pattern.split("."), subject.split(".")
    for i, token in enumerate(want):
        if token == ">":
            return len(got) > i
        if i >= len(got) or token not in ("*", got[i]):
            return False
    return len(want) == len(got)

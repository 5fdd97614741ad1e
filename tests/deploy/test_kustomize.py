"""Every kustomization builds with a real kubectl, and every object it builds
is valid against the Kubernetes 1.32 OpenAPI schemas (kubernetes-validate,
strict: unknown fields are errors, so a typo in a probe cannot slip through)."""

from __future__ import annotations

import os
from pathlib import Path

import kubernetes_validate
import pytest

from tests.deploy.helpers import (
    K8S,
    K8S_VERSION,
    OVERLAYS,
    SERVICES,
    WORKLOAD_KINDS,
    config_data,
    effective_env,
    find,
    kustomize,
    schema_errors,
    workload,
)


@pytest.mark.parametrize("target", OVERLAYS)
def test_renders_and_validates_strictly(render, target: str) -> None:
    docs = render(target)
    assert docs, f"{target} rendered nothing"
    errors = schema_errors(docs)
    assert not errors, "\n".join(errors)


def test_validator_rejects_unknown_fields() -> None:
    # Guards the test above: strict mode must really refuse a misspelt field.
    bad = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "x"},
        "spec": {"selector": {}, "template": {"spec": {"containers": [{"name": "x", "image": "x", "readinesProbe": {}}]}}},
    }
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, K8S_VERSION, strict=True)


def test_each_target_has_every_service_and_the_hub(render) -> None:
    for target in OVERLAYS:
        docs = render(target)
        for name in SERVICES:
            workload(docs, name)
            find(docs, "Service", name)
        find(docs, "StatefulSet", "nats")
        find(docs, "Service", "nats")
        workloads = {d["metadata"]["name"] for d in docs if d["kind"] in WORKLOAD_KINDS}
        assert workloads - {"otel-collector"} == {*SERVICES, "nats"}, f"{target}: unexpected workloads {workloads}"


def test_namespaces(render) -> None:
    assert all("namespace" not in d["metadata"] for d in render("base")), "the base must stay namespace-agnostic"
    for target, namespace in (("overlays/dev", "sightline-dev"), ("overlays/prod", "sightline")):
        docs = render(target)
        find(docs, "Namespace", namespace)
        assert {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"} == {namespace}


def test_observability_points_every_service_at_the_collector(render) -> None:
    for target in ("overlays/dev", "overlays/prod"):
        docs = render(target)
        collector = find(docs, "Service", "otel-collector")
        assert any(p["port"] == 4317 for p in collector["spec"]["ports"])
        for name in SERVICES:
            env = effective_env(docs, workload(docs, name)["spec"]["template"]["spec"]["containers"][0])
            assert env.get("OTEL_EXPORTER_OTLP_ENDPOINT") == "http://otel-collector:4317", (target, name)
        dashboard = find(docs, "ConfigMap", "grafana-dashboard-sightline")
        assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    base = render("base")
    for name in SERVICES:
        env = effective_env(base, workload(base, name)["spec"]["template"]["spec"]["containers"][0])
        assert "OTEL_EXPORTER_OTLP_ENDPOINT" not in env, "without the component nothing should export"


def test_dev_logs_for_people(render) -> None:
    assert config_data(render("overlays/dev"), "sightline-config")["SIGHTLINE_LOG_FORMAT"] == "console"
    assert config_data(render("overlays/prod"), "sightline-config")["SIGHTLINE_LOG_FORMAT"] == "json"


def test_nats_creds_component(kubectl: str, tmp_path: Path) -> None:
    # A throwaway overlay: base + the component, as a cluster with auth would use it
    # (kustomize wants relative paths to other kustomizations).
    base, component = (os.path.relpath(K8S / p, tmp_path) for p in ("base", "components/nats-creds"))
    (tmp_path / "kustomization.yaml").write_text(
        f"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [{base}]\ncomponents: [{component}]\n"
    )
    docs = kustomize(kubectl, tmp_path)
    assert not schema_errors(docs)
    for name in SERVICES:
        pod = workload(docs, name)["spec"]["template"]["spec"]
        container = pod["containers"][0]
        env = effective_env(docs, container)
        volume = next(v for v in pod["volumes"] if v["name"] == "nats-creds")
        mount = next(m for m in container["volumeMounts"] if m["name"] == "nats-creds")
        assert volume["secret"] == {"secretName": f"{name}-nats-creds", "optional": False}
        assert env["SIGHTLINE_NATS_CREDENTIALS_FILE"] == f"{mount['mountPath']}/nats.creds"

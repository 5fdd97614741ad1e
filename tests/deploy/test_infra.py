"""NATS hub and OpenTelemetry Collector as rendered: the NATS config that
kustomize generates is checked by the real nats-server (`-t`), and the cluster,
ports and probes agree with it; the collector config is wired consistently."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import nats
import pytest
import yaml
from sightline_runtime.natsserver import nats_server_binary
from sightline_runtime.processes import free_port
from sightline_runtime.streams import ALL_STREAMS, DEVICES, GLOSSARY, ensure_bucket, ensure_streams

from tests.deploy.helpers import ROOT, config_data, find

TARGETS = ("base", "overlays/dev", "overlays/prod")


def nats_server_check(conf_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [nats_server_binary(), "-t", "-c", str(conf_dir / "nats.conf")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={"POD_NAME": "nats-0"},  # the StatefulSet sets it from the pod name
    )


@pytest.mark.parametrize("target", TARGETS)
def test_nats_config_is_valid_for_nats_server(render, target: str, tmp_path: Path) -> None:
    for name, text in config_data(render(target), "nats-config").items():
        (tmp_path / name).write_text(text)
    result = nats_server_check(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_nats_server_check_catches_errors(tmp_path: Path) -> None:
    # Guards the test above: -t really parses (an unknown include fails).
    (tmp_path / "nats.conf").write_text("port: 4222\ninclude ./missing.conf\n")
    assert nats_server_check(tmp_path).returncode != 0


@pytest.mark.parametrize("target", TARGETS)
def test_nats_workload_matches_its_config(render, target: str) -> None:
    docs = render(target)
    data = config_data(docs, "nats-config")
    conf = data["nats.conf"]
    sts = find(docs, "StatefulSet", "nats")
    container = sts["spec"]["template"]["spec"]["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["client"] == int(re.search(r"^port: (\d+)", conf, re.M)[1]) == 4222
    assert ports["monitor"] == int(re.search(r"^http_port: (\d+)", conf, re.M)[1]) == 8222
    assert ports["leafnodes"] == int(re.search(r"leafnodes \{\s*port: (\d+)", conf)[1]) == 7422
    assert re.search(r"jetstream \{[^}]*domain: hub", conf), "JetStream domain must be 'hub'"
    store = re.search(r"store_dir: (\S+)", conf)[1]
    assert {"name": "data", "mountPath": store} in container["volumeMounts"]
    claim = sts["spec"]["volumeClaimTemplates"][0]
    assert claim["metadata"]["name"] == "data"
    store_gib = int(re.search(r"max_file_store: (\d+)GB", conf)[1])
    assert store_gib < int(claim["spec"]["resources"]["requests"]["storage"].removesuffix("Gi")), "JetStream store must fit the PVC"
    assert container["readinessProbe"]["httpGet"] == {"path": "/healthz?js-enabled-only=true", "port": "monitor"}
    assert container["env"] == [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]
    # Lame duck (preStop) must finish inside the grace period.
    lame = sum(int(re.search(rf"{key}: (\d+)s", conf)[1]) for key in ("lame_duck_duration", "lame_duck_grace_period"))
    assert sts["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > lame
    pid_file = re.search(r"pid_file: (\S+)", conf)[1]
    assert container["lifecycle"]["preStop"]["exec"]["command"][-1] == f"ldm={pid_file}"

    routes = re.findall(r"nats://(nats-\d+)\.([\w-]+):(\d+)", data["cluster.conf"])
    replicas = sts["spec"]["replicas"]
    if replicas == 1:
        assert not routes, "a standalone server has no cluster routes"
    else:
        assert sorted(r[0] for r in routes) == [f"nats-{i}" for i in range(replicas)]
        assert {r[1] for r in routes} == {sts["spec"]["serviceName"]}
        assert {int(r[2]) for r in routes} == {ports["cluster"]}
        headless = find(docs, "Service", sts["spec"]["serviceName"])
        assert headless["spec"]["clusterIP"] == "None"
        assert headless["spec"]["publishNotReadyAddresses"] is True


def test_leafnodes_reachable_from_outside_in_prod(render) -> None:
    leaf = find(render("overlays/prod"), "Service", "nats-leafnodes")
    assert leaf["spec"]["type"] == "LoadBalancer"
    assert leaf["spec"]["ports"] == [{"name": "leafnodes", "port": 7422, "targetPort": "leafnodes"}]


def test_collector_config_is_wired(render) -> None:
    config = yaml.safe_load((ROOT / "deploy" / "otel" / "collector.yaml").read_text())
    declared = {kind: set(config[kind]) for kind in ("receivers", "processors", "exporters", "extensions")}
    assert set(config["service"]["extensions"]) <= declared["extensions"]
    traces = config["service"]["pipelines"]["traces"]
    for kind in ("receivers", "processors", "exporters"):
        assert traces[kind], kind
        assert set(traces[kind]) <= declared[kind], kind
    assert traces["processors"][0] == "memory_limiter", "memory_limiter must come first"
    assert config["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"] == "0.0.0.0:4317"

    docs = render("overlays/dev")
    deployment = find(docs, "Deployment", "otel-collector")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert config_data(docs, "otel-collector-config")["collector.yaml"] == (ROOT / "deploy" / "otel" / "collector.yaml").read_text()
    mount = next(m["mountPath"] for m in container["volumeMounts"] if m["name"] == "config")
    assert container["args"] == [f"--config={mount}/collector.yaml"]
    health_port = int(config["extensions"]["health_check"]["endpoint"].rsplit(":", 1)[1])
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["health"] == health_port
    assert container["readinessProbe"]["httpGet"]["port"] == "health"
    assert ports["otlp-grpc"] == 4317


@pytest.mark.asyncio
async def test_hub_config_accepts_every_stream_the_services_create(render, tmp_path: Path) -> None:
    """Run nats-server with the rendered hub config (paths and ports moved to
    this machine) and create what the services create at start-up: JetStream
    reserves each stream's max_bytes against max_file_store, so a too small
    store makes the services fail on start-up, not at deploy time."""
    data = config_data(render("base"), "nats-config")
    ports = {name: free_port() for name in ("client", "monitor", "leafnodes")}
    conf = data["nats.conf"]
    for pattern, value in (
        (r"^port: \d+", f"port: {ports['client']}"),
        (r"^http_port: \d+", f"http_port: {ports['monitor']}"),
        (r"(leafnodes \{\s*port: )\d+", rf"\g<1>{ports['leafnodes']}"),
        (r"store_dir: \S+", f"store_dir: {tmp_path / 'js'}"),
        (r"pid_file: \S+", f"pid_file: {tmp_path / 'nats.pid'}"),
    ):
        conf, count = re.subn(pattern, value, conf, flags=re.M)
        assert count == 1, pattern
    (tmp_path / "nats.conf").write_text(conf)
    (tmp_path / "cluster.conf").write_text(data["cluster.conf"])
    server = subprocess.Popen(  # noqa: ASYNC220 - started once, stopped in finally
        [nats_server_binary(), "-c", str(tmp_path / "nats.conf")],
        env={"POD_NAME": "nats-0"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        nc = await nats.connect(
            f"nats://127.0.0.1:{ports['client']}", connect_timeout=2, max_reconnect_attempts=20, reconnect_time_wait=0.2
        )
        try:
            js = nc.jetstream()
            await ensure_streams(js, ALL_STREAMS)
            for bucket in (DEVICES, GLOSSARY):
                await ensure_bucket(js, bucket)
            info = await js.account_info()
            assert info.domain == "hub"
            assert info.streams >= len(ALL_STREAMS)
        finally:
            await nc.close()
    finally:
        server.terminate()
        server.wait(timeout=10)

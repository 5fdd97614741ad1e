"""NATS hub and OpenTelemetry Collector as rendered: the NATS config that
kustomize generates is checked by the real nats-server (`-t`), and the cluster,
ports and probes agree with it; the collector config is wired consistently."""

from __future__ import annotations

import asyncio
import re
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import yaml
from sightline_runtime import partitions
from sightline_runtime.natsserver import nats_server_binary
from sightline_runtime.processes import free_port
from sightline_runtime.streams import (
    DEVICES,
    GLOSSARY,
    PHOTOS,
    ensure_bucket,
    ensure_object_store,
    ensure_streams,
    inbox_bucket,
)
from sightline_runtime.surface import deployment_streams, load_surfaces
from sightline_vision.settings import VisionSettings

from tests.deploy.helpers import ROOT, SERVICES, Hub, config_data, effective_env, find, localize_nats_conf, running_nats, workload

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
    """The glasses dial the hub's leafnode port from outside: a LoadBalancer on
    7422 that reaches the port nats.conf opens, on the hub's pods."""
    docs = render("overlays/prod")
    leaf = find(docs, "Service", "nats-leafnodes")
    assert leaf["spec"]["type"] == "LoadBalancer"
    assert leaf["spec"]["ports"] == [{"name": "leafnodes", "port": 7422, "targetPort": "leafnodes"}]
    sts = find(docs, "StatefulSet", "nats")
    assert leaf["spec"]["selector"].items() <= sts["spec"]["template"]["metadata"]["labels"].items()
    ports = {p["name"]: p["containerPort"] for p in sts["spec"]["template"]["spec"]["containers"][0]["ports"]}
    conf = config_data(docs, "nats-config")["nats.conf"]
    assert ports["leafnodes"] == int(re.search(r"leafnodes \{\s*port: (\d+)", conf)[1]) == 7422


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


@asynccontextmanager
async def running_hub(render, target: str, tmp_path: Path) -> AsyncIterator[Hub]:
    """The target's nats.conf with ports and paths moved here. cluster.conf is
    the base's (standalone): prod's routes name pods that do not exist here,
    and a node of the cluster reserves the same store as a standalone server."""
    data = config_data(render(target), "nats-config")
    ports = {name: free_port() for name in ("client", "monitor", "leafnodes")}
    conf = localize_nats_conf(data["nats.conf"], ports, tmp_path / "js", tmp_path / "nats.pid")
    for name, text in (data | {"nats.conf": conf, "cluster.conf": config_data(render("base"), "nats-config")["cluster.conf"]}).items():
        (tmp_path / name).write_text(text)
    async with running_nats(tmp_path / "nats.conf", ports) as hub:
        yield hub


@pytest.mark.asyncio
@pytest.mark.parametrize("target", TARGETS)
async def test_hub_maps_audio_onto_the_partitions(render, target: str, tmp_path: Path) -> None:
    """The hub's mapping is exactly partitions.nats_mappings() (one source of
    truth: change AUDIO_PARTITIONS and this fails until nats.conf follows), as
    the running server understands it, and it sends each device's audio to
    partition_of(device), the partition its asr replica subscribes to."""
    async with running_hub(render, target, tmp_path) as hub:
        nc = await hub.connect()
        try:
            account = (await hub.get("accountz?acc=$G"))["account_detail"]
            # nats-server adds its own $JS.<domain>.API mappings for the JetStream domain.
            ours = {source: dests for source, dests in account.get("mappings", {}).items() if not source.startswith("$JS.")}
            expected = {source: [{"subject": dest, "weight": 100}] for source, dest in partitions.nats_mappings().items()}
            assert ours == expected, "deploy/nats/accounts.conf mappings differ from sightline_runtime.partitions.nats_mappings()"

            received: asyncio.Queue[str] = asyncio.Queue()

            async def on_message(msg) -> None:
                await received.put(msg.subject)

            await nc.subscribe("glasses.*.up.audio.*", cb=on_message)
            devices = [f"dev{i}" for i in range(32)]
            for device in devices:
                await nc.publish(f"glasses.{device}.up.audio", b"frame")
            await nc.flush()
            got = [await asyncio.wait_for(received.get(), 5) for _ in devices]
            assert got == [f"glasses.{d}.up.audio.{partitions.partition_of(d)}" for d in devices]
            assert len({subject.rsplit(".", 1)[1] for subject in got}) == partitions.AUDIO_PARTITIONS
        finally:
            await nc.close()


def photo_store_bytes(docs) -> int:
    """The photos bucket's size as the target's vision service sets it."""
    vision = workload(docs, "vision")
    env = effective_env(docs, vision["spec"]["template"]["spec"]["containers"][0])
    return int(env.get("SIGHTLINE_PHOTO_STORE_MAX_BYTES", VisionSettings.model_fields["photo_store_max_bytes"].default))


@pytest.mark.asyncio
@pytest.mark.parametrize("target", TARGETS)
async def test_hub_config_accepts_every_stream_the_services_create(render, target: str, tmp_path: Path) -> None:
    """Run nats-server with the rendered hub config and create what the
    services create at start-up: every stream, the KV buckets and the photos
    object store. JetStream reserves each stream's max_bytes (an object store
    is a stream too) against max_file_store, so a too small store makes the
    services fail on start-up, not at deploy time."""
    surfaces = load_surfaces(SERVICES)
    all_streams = deployment_streams(surfaces)
    docs = render(target)
    photos_bytes = photo_store_bytes(docs)
    expected = sum(spec.max_bytes for spec in all_streams) + photos_bytes
    async with running_hub(render, target, tmp_path) as hub:
        nc = await hub.connect()
        try:
            js = nc.jetstream()
            await ensure_streams(js, all_streams)
            # The platform's buckets, the ones services declare (the assistant's state), each consumer inbox.
            declared = {use.bucket.name: use.bucket for s in surfaces for use in s.buckets}
            buckets = {b.name: b for b in (DEVICES, GLOSSARY)} | declared
            buckets |= {b.name: b for b in (inbox_bucket(s.service, ttl_s=14 * 86400.0) for s in surfaces if s.dedup)}
            for bucket in buckets.values():
                await ensure_bucket(js, bucket)
            await ensure_object_store(js, PHOTOS, max_bytes=photos_bytes)
            info = await js.account_info()
            assert info.domain == "hub"
            assert info.streams == len(all_streams) + len(buckets) + 1
            jsz = await hub.get("jsz")
        finally:
            await nc.close()
    # Nothing reserves more than streams.py and the vision settings say (KV buckets are unbounded: 0).
    assert jsz["reserved_storage"] == expected
    assert expected <= jsz["config"]["max_storage"]
    max_file_store = int(re.search(r"max_file_store: (\d+)GB", config_data(docs, "nats-config")["nats.conf"])[1]) << 30
    assert jsz["config"]["max_storage"] == max_file_store, "nats-server reads GB as GiB"

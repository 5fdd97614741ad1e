"""The Tiltfile, run by a real Starlark interpreter (starlark-rust, via
starlark-pyo3) against recording stubs of Tilt's API. No Tilt or cluster runs
here; what is checked is that the file parses and runs, and what it asks Tilt
to do: one resource per service with labels, images that the dev manifests
use, live_update syncs of real source into the image's real site-packages,
the drift check on proto changes, and `tilt up overlay asr` selecting a subset.

The stubs take Tilt's own parameter names, so a misspelt keyword fails here
as it would in Tilt (https://docs.tilt.dev/api.html)."""

from __future__ import annotations

import os.path
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import starlark as sl

from tests.deploy.helpers import K8S, ROOT, SERVICES, WORKLOAD_KINDS, workload
from tests.deploy.test_dockerfiles import DOCKERFILE, SITE, last, parse, stages


@dataclass
class Tilt:
    """What one run of the Tiltfile asked for."""

    args: list[str]
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    defined: dict[str, dict[str, Any]] = field(default_factory=dict)
    enabled: list[str] | None = None

    def named(self, fn: str) -> list[dict[str, Any]]:
        return [kwargs for name, kwargs in self.calls if name == fn]

    # --- Tilt builtins, with Tilt's signatures ---
    def version_settings(self, check_updates=True, constraint=""):
        self.calls.append(("version_settings", {"constraint": constraint}))

    def docker_build(self, ref, context, build_args=None, dockerfile="Dockerfile", dockerfile_contents="", live_update=(),
                     match_in_env_vars=False, ignore=(), only=(), entrypoint=(), target="", ssh="", network="", secret="",
                     extra_tag="", container_args=None, cache_from=(), pull=False, platform="", extra_hosts=()):  # fmt: skip
        self.calls.append(("docker_build", dict(locals(), self=None)))

    def kustomize(self, pathToDir, kustomize_bin=None, flags=()):
        return {"kustomize": pathToDir}

    def k8s_yaml(self, yaml, allow_duplicates=False):
        self.calls.append(("k8s_yaml", {"yaml": yaml}))

    def k8s_resource(self, workload="", new_name="", port_forwards=(), extra_pod_selectors=(), trigger_mode=None, resource_deps=(),
                     objects=(), auto_init=True, pod_readiness="", links=(), labels=(), discovery_strategy=""):  # fmt: skip
        self.calls.append(("k8s_resource", dict(locals(), self=None)))

    def local_resource(self, name, cmd="", deps=None, trigger_mode=None, resource_deps=(), ignore=(), auto_init=True, serve_cmd="",
                       cmd_bat="", serve_cmd_bat="", allow_parallel=False, links=(), tags=(), env=None, serve_env=None,
                       readiness_probe=None, dir="", serve_dir="", labels=()):  # fmt: skip
        self.calls.append(("local_resource", dict(locals(), self=None)))

    def sync(self, local_path, remote_path):
        return {"sync": (local_path, remote_path)}

    def run(self, cmd, trigger=(), echo_off=False):
        return {"run": cmd, "trigger": trigger}

    def fall_back_on(self, files):
        return {"fall_back_on": files}

    def link(self, url, name=""):
        return {"link": url, "name": name}

    # --- config ---
    def define_string_list(self, name, args=False, usage=""):
        self.defined[name] = {"args": args, "type": "string_list"}

    def parse(self):
        positional = [n for n, d in self.defined.items() if d["args"]]
        return {positional[0]: list(self.args)} if positional and self.args else {}

    def set_enabled_resources(self, resources):
        self.enabled = list(resources)

    # --- the restart_process extension (ext://restart_process), same signature ---
    def docker_build_with_restart(self, ref, context, entrypoint, live_update, base_suffix="-base", restart_file="/.restart-proc",
                                  **kwargs):  # fmt: skip
        self.docker_build(ref + base_suffix, context, **kwargs)  # validates kwargs against docker_build
        self.calls[-1] = ("docker_build_with_restart", dict(kwargs, ref=ref, context=context, entrypoint=entrypoint,
                                                           live_update=live_update, restart_file=restart_file))  # fmt: skip


PRELUDE = """
config = struct(define_string_list=_define_string_list, parse=_parse, set_enabled_resources=_set_enabled_resources,
                main_dir=_main_dir, main_path=_main_dir + '/Tiltfile')
os = struct(path=struct(join=_join, exists=_exists, basename=_basename, dirname=_dirname))
"""
BUILTINS = ("version_settings", "docker_build", "kustomize", "k8s_yaml", "k8s_resource", "local_resource", "sync", "run",
            "fall_back_on", "link")  # fmt: skip


def _dialect() -> sl.Dialect:
    dialect = sl.Dialect.extended()
    dialect.enable_top_level_stmt = True  # Tilt allows for/if at the top level
    return dialect


def _module(tilt: Tilt) -> sl.Module:
    module = sl.Module()
    for name in BUILTINS:
        module.add_callable(name, getattr(tilt, name))
    module.add_callable("_define_string_list", tilt.define_string_list)
    module.add_callable("_parse", tilt.parse)
    module.add_callable("_set_enabled_resources", tilt.set_enabled_resources)
    module.add_callable("_join", os.path.join)
    module.add_callable("_exists", os.path.exists)
    module.add_callable("_basename", os.path.basename)
    module.add_callable("_dirname", os.path.dirname)
    module["_main_dir"] = str(ROOT)
    sl.eval(module, sl.parse("prelude", PRELUDE, _dialect()), _globals())
    return module


def _globals() -> sl.Globals:
    return sl.Globals.extended_by([sl.LibraryExtension.StructType, sl.LibraryExtension.Print, sl.LibraryExtension.Json])


def run_tiltfile(*args: str) -> Tilt:
    tilt = Tilt(args=list(args))
    loaded: list[str] = []

    def load(path: str) -> sl.FrozenModule:
        loaded.append(path)
        module = _module(tilt)
        if path == "ext://restart_process":
            module.add_callable("docker_build_with_restart", tilt.docker_build_with_restart)
            return module.freeze()
        assert re.fullmatch(r"\./tilt/\w+\.tiltfile", path), f"unexpected load({path!r})"
        source = (ROOT / path).read_text()
        sl.eval(module, sl.parse(path, source, _dialect()), _globals(), sl.FileLoader(load))
        return module.freeze()

    source = (ROOT / "Tiltfile").read_text()
    sl.eval(_module(tilt), sl.parse("Tiltfile", source, _dialect()), _globals(), sl.FileLoader(load))
    assert "ext://restart_process" in loaded
    return tilt


@pytest.fixture(scope="module")
def tilt() -> Tilt:
    return run_tiltfile()


def test_deploys_the_dev_overlay(tilt: Tilt) -> None:
    assert tilt.named("k8s_yaml") == [{"yaml": {"kustomize": "deploy/k8s/overlays/dev"}}]
    assert (K8S / "overlays" / "dev" / "kustomization.yaml").is_file()


def test_one_resource_per_service_with_labels(tilt: Tilt, render) -> None:
    resources = {r["workload"]: r for r in tilt.named("k8s_resource")}
    assert set(resources) == {*SERVICES, "nats", "otel-collector"}
    # Tilt's k8s_resource takes any workload by name: Deployments and StatefulSets (asr, nats) alike.
    workloads = {d["metadata"]["name"] for d in render("overlays/dev") if d["kind"] in WORKLOAD_KINDS}
    assert set(resources) == workloads, "every k8s_resource must name a workload of the dev overlay"
    local_ports = []
    docs = render("overlays/dev")
    for name in SERVICES:
        resource = resources[name]
        assert resource["new_name"] == "", "the Tilt resource is named exactly as the service"
        assert list(resource["labels"]), f"{name} has no labels"
        assert list(resource["resource_deps"]) == ["nats"]
        forwards = [forward.split(":") for forward in resource["port_forwards"]]
        assert forwards[0][1] == "8080", f"{name}: the first forward is the runtime's HTTP port"
        # Any further forward reaches a port the container really declares (the assistant's ingress).
        declared = {str(p["containerPort"]) for p in workload(docs, name)["spec"]["template"]["spec"]["containers"][0]["ports"]}
        for local, remote in forwards:
            assert remote in declared, f"{name}: port-forward to {remote}, which the container does not declare"
            local_ports.append(local)
    assert len(local_ports) == len(set(local_ports)), "every local port is forwarded once"
    notify = {remote for local, remote in (f.split(":") for f in resources["assistant"]["port_forwards"])}
    assert notify == {"8080", "8090", "8091"}, "the assistant's notification ingress (HTTP, gRPC) is forwarded too"
    assert all(list(resources[n]["labels"]) for n in ("nats", "otel-collector"))


def test_images_match_the_manifests_and_dockerfiles(tilt: Tilt, render) -> None:
    builds = {b["ref"]: b for b in tilt.named("docker_build_with_restart")}
    docs = render("overlays/dev")
    manifest_images = {
        c["image"].split(":")[0] for d in docs if d["kind"] in WORKLOAD_KINDS for c in d["spec"]["template"]["spec"]["containers"]
    }
    assert set(builds) == set(SERVICES)
    assert set(builds) <= manifest_images, "Tilt only swaps in images the manifests use"
    for name, build in builds.items():
        container = workload(docs, name)["spec"]["template"]["spec"]["containers"][0]
        assert container["image"].split(":")[0] == name
        assert Path(build["context"]) == ROOT
        assert Path(build["dockerfile"]) == DOCKERFILE
        assert dict(build["build_args"]) == {"SERVICE": name}
        by_stage = stages(parse())
        assert build["target"] in by_stage, f"no stage {build['target']!r} in {DOCKERFILE}"
        assert list(build["entrypoint"]) == list(last(by_stage["runtime"], "ENTRYPOINT").value)
        assert build["restart_file"].startswith("/opt/tilt/"), "the dev stage makes /opt/tilt writable for the app user"
        for path in build["only"]:
            assert (ROOT / path).exists(), path


def test_live_update_syncs_source_into_site_packages(tilt: Tilt) -> None:
    for build in tilt.named("docker_build_with_restart"):
        name = build["ref"]
        steps = list(build["live_update"])
        assert "fall_back_on" in steps[0], "fall_back_on must come first"
        for path in steps[0]["fall_back_on"]:
            assert Path(path).name == "pyproject.toml"
            assert Path(path).is_file(), path
        syncs = dict(step["sync"] for step in steps[1:])
        expected = {
            ROOT / "libs/contracts/src/sightline": f"{SITE}/sightline",
            ROOT / "libs/runtime/src/sightline_runtime": f"{SITE}/sightline_runtime",
            ROOT / f"services/{name}/src/sightline_{name}": f"{SITE}/sightline_{name}",
        }
        assert {Path(k): v for k, v in syncs.items()} == expected
        for local in expected:
            assert (local / "__init__.py").is_file() or local.name == "sightline", f"{local} is not a package"
            assert any(Path(build["context"], only) in (local, *local.parents) for only in build["only"]), f"{local} outside only="


def test_contract_drift_check_runs_on_proto_changes(tilt: Tilt) -> None:
    (check,) = tilt.named("local_resource")
    assert check["name"] == "contracts-drift"
    cmd = list(check["cmd"])
    assert cmd[1:] == ["libs/contracts/generate.py", "--check"]
    assert (Path(check["dir"]) / cmd[1]).is_file()
    assert ROOT / "proto" in {Path(d) for d in check["deps"]}
    assert list(check["labels"])


def test_to_run_selects_a_subset() -> None:
    everything = run_tiltfile()
    assert everything.defined["to-run"] == {"args": True, "type": "string_list"}
    infra = {"uncategorized", "nats", "otel-collector", "contracts-drift"}
    assert set(everything.enabled) == infra | set(SERVICES)
    subset = run_tiltfile("overlay", "asr")
    assert set(subset.enabled) == infra | {"overlay", "asr"}


def test_unknown_service_fails() -> None:
    with pytest.raises(sl.StarlarkError, match="unknown service"):
        run_tiltfile("overlay", "nope")

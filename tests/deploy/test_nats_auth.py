"""NATS JWT auth in the cluster: `sightline k8s auth` writes the Secrets and
components/nats-auth turns them on. A team's overlay using both is rendered
with a real kubectl and validated; then its hub config and Secrets, laid out
as the pod mounts them, run in a real nats-server: anonymous clients are
refused, each service's rendered credentials allow what it needs and nothing
else, the audio partition mapping comes from the account JWT, and devices are
provisioned and revoked against that hub with `sightline devices --server`."""

from __future__ import annotations

import asyncio
import json
import os
import posixpath
import re
import stat
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nats
import pytest
from sightline_cli.main import app
from sightline_runtime import auth, partitions, streams
from sightline_runtime.processes import free_port
from sightline_runtime.surface import load_surface
from typer.testing import CliRunner

from tests.conftest import VENV_BIN
from tests.deploy.helpers import (
    K8S,
    SERVICES,
    Doc,
    config_data,
    effective_env,
    find,
    kustomize,
    lay_out_pod,
    running_nats,
    schema_errors,
    secret_data,
    sightline,
    workload,
)

COMPONENT = K8S / "components" / "nats-auth"
AUTH_TARGETS = ("base", "overlays/prod")


@dataclass(frozen=True)
class Generated:
    root: Path
    out: Path
    state: Path
    printed: str

    def authority(self) -> auth.Authority:
        return auth.Authority.load_or_create(self.state / "auth")


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Generated:
    """`sightline k8s auth` run as a team would: into their overlay's auth/,
    with the authority kept elsewhere."""
    root = tmp_path_factory.mktemp("k8s-auth")
    out, state = root / "overlay" / "auth", root / "authority"
    result = sightline("k8s", "auth", "--out", str(out), "--state-dir", str(state))
    assert result.returncode == 0, result.stdout + result.stderr
    return Generated(root, out, state, result.stdout + result.stderr)


def team_overlay(generated: Generated, target: str) -> Path:
    """An overlay on `target` with the generated Secrets and the component
    (kustomize wants relative paths to other kustomizations)."""
    folder = generated.out.parent if target == "base" else generated.root / target.replace("/", "-")
    folder.mkdir(exist_ok=True)

    def rel(path: Path) -> str:
        return os.path.relpath(path, folder)

    (folder / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f"resources: [{rel(K8S / target)}, {rel(generated.out)}]\ncomponents: [{rel(COMPONENT)}]\n"
    )
    return folder


@pytest.fixture(scope="module")
def rendered(kubectl: str, generated: Generated) -> Callable[[str], list[Doc]]:
    cache: dict[str, list[Doc]] = {}

    def _render(target: str) -> list[Doc]:
        if target not in cache:
            cache[target] = kustomize(kubectl, team_overlay(generated, target))
        return cache[target]

    return _render


def parse_auth_conf(text: str) -> dict:
    """auth.conf is `key: <JSON>` lines (nats-server config syntax) after comments."""
    settings = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.split(": ", 1)
            settings[key] = json.loads(value)
    return settings


def creds_claims(text: str) -> dict:
    return auth.decode_claims(re.search(r"-----BEGIN NATS USER JWT-----\s*(\S+)", text)[1])


def account_mappings() -> dict[str, list[dict]]:
    """partitions.nats_mappings() in account JWT form, as nats-server reports them."""
    return {source: [{"subject": dest, "weight": 100}] for source, dest in partitions.nats_mappings().items()}


def seeds_and_jwts(text: str) -> list[str]:
    """Every NKey seed (S + key type) and JWT in a text."""
    return re.findall(r"\bS[OAU][A-Z2-7]{50,}\b", text) + re.findall(r"\beyJ[\w-]+\.[\w-]+\.[\w-]+", text)


# --- the command ---
def test_command_writes_the_secrets_and_prints_only_paths(generated: Generated, tmp_path: Path) -> None:
    out, authority = generated.out, generated.authority()
    creds_files = [out / f"{service}.creds" for service in SERVICES]
    expected_files = [".gitignore", "auth.conf", "kustomization.yaml", *(p.name for p in creds_files)]
    assert sorted(p.name for p in out.iterdir()) == sorted(expected_files)
    for secret in (out / "auth.conf", *creds_files):
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600, secret

    # One user per service, signed by the account, with exactly the runtime's permissions.
    for service, path in zip(SERVICES, creds_files, strict=True):
        claims = creds_claims(path.read_text())
        assert claims["iss"] == authority.account
        assert claims["name"] == f"service-{service}"
        wanted = auth.service_permissions(load_surface(service)).claims()
        assert {key: claims["nats"].get(key) for key in wanted} == wanted, service

    # The hub: this operator, the SYS account, a full resolver on the JetStream PVC,
    # both account JWTs preloaded, the audio mapping in the SIGHTLINE account.
    hub = parse_auth_conf((out / "auth.conf").read_text())
    operator = auth.public_key(authority.operator_seed)
    assert auth.decode_claims(hub["operator"])["sub"] == operator
    assert hub["system_account"] == authority.system_account
    assert hub["resolver"] == {"type": "full", "dir": "/data/resolver", "allow_delete": False}
    assert set(hub["resolver_preload"]) == {authority.system_account, authority.account}
    account = auth.decode_claims(hub["resolver_preload"][authority.account])
    assert account["iss"] == operator
    assert account["nats"]["mappings"] == account_mappings()

    # The signing seeds stay in the state dir: no file meant for the cluster carries one.
    signing = (authority.operator_seed, authority.system_seed, authority.account_seed)
    assert not [p for p in out.iterdir() for seed in signing if seed in p.read_text()]
    assert (generated.state / "creds" / "admin.creds").is_file()
    assert (generated.state / "creds" / "system.creds").is_file()

    # Paths are printed, secrets never; the operator is told where the keys must live.
    secret_files = (*creds_files, out / "auth.conf", *(generated.state / "auth").glob("*.nk"))
    secrets = [s for p in secret_files for s in seeds_and_jwts(p.read_text())]
    assert len(secrets) > 2 * len(SERVICES)
    assert not [s for s in secrets if s in generated.printed]
    for path in (out / "auth.conf", *creds_files, out / "kustomization.yaml", generated.state / "auth"):
        assert str(path) in generated.printed
    assert "outside the repository" in generated.printed

    # git really ignores the seeds, not the kustomization.
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / ".gitignore").write_text((out / ".gitignore").read_text())
    candidates = ["asr.creds", "kustomization.yaml", "auth.conf"]
    ignored = subprocess.run(["git", "-C", str(repo), "check-ignore", *candidates], capture_output=True, text=True, check=False)
    assert ignored.stdout.split() == ["asr.creds"]


def test_rerun_keeps_valid_credentials_and_replaces_stale_ones(tmp_path: Path) -> None:
    out, state = tmp_path / "auth", tmp_path / "authority"
    runner = CliRunner()

    def run(*extra: str):
        result = runner.invoke(app, ["k8s", "auth", "--out", str(out), "--state-dir", str(state), *extra])
        assert result.exit_code == 0, result.output
        return result.output

    run()
    before = {service: (out / f"{service}.creds").read_text() for service in SERVICES}
    again = run()
    assert {service: (out / f"{service}.creds").read_text() for service in SERVICES} == before
    assert again.count("(kept)") == len(SERVICES)

    authority = auth.Authority.load_or_create(state / "auth")
    # asr: another deployment's credentials; overlay: outdated permissions; translation: revoked; vision: garbage.
    stranger = auth.Authority.load_or_create(tmp_path / "another-authority")
    auth.write_secret(out / "asr.creds", stranger.issue("service-asr", auth.service_permissions(load_surface("asr")))[0])
    auth.write_secret(out / "overlay.creds", authority.issue("service-overlay", auth.Permissions(pub_allow=("glasses.>",)))[0])
    auth.write_secret(out / "vision.creds", "not a credentials file\n")
    revoked = auth.creds_public_key(out / "translation.creds")
    authority.revoke(revoked)
    third = run()
    for service in ("asr", "overlay", "translation", "vision"):
        assert f"{service}: {out / f'{service}.creds'} (reissued)" in third
        claims = creds_claims((out / f"{service}.creds").read_text())
        assert claims["iss"] == authority.account
        assert claims["nats"]["pub"] == auth.service_permissions(load_surface(service)).claims()["pub"]
    assert auth.creds_public_key(out / "translation.creds") != revoked
    for service in ("commerce", "payments"):
        assert (out / f"{service}.creds").read_text() == before[service]
    # The hub's preloaded account JWT carries the revocation.
    account = auth.decode_claims(parse_auth_conf((out / "auth.conf").read_text())["resolver_preload"][authority.account])
    assert revoked in account["nats"]["revocations"]


def test_command_refuses_keys_among_the_manifests_and_relative_resolver_dirs(tmp_path: Path) -> None:
    runner = CliRunner()
    inside = runner.invoke(app, ["k8s", "auth", "--out", str(tmp_path / "auth"), "--state-dir", str(tmp_path / "auth" / "keys")])
    assert inside.exit_code == 2
    assert not (tmp_path / "auth" / "keys").exists()
    relative = runner.invoke(
        app, ["k8s", "auth", "--out", str(tmp_path / "out"), "--state-dir", str(tmp_path / "keys"), "--resolver-dir", "data/resolver"]
    )
    assert relative.exit_code == 2
    assert not (tmp_path / "out").exists()


# --- the component, rendered ---
@pytest.mark.parametrize("target", AUTH_TARGETS)
def test_overlay_with_the_component_renders_and_validates(rendered, generated: Generated, target: str) -> None:
    docs = rendered(target)
    assert not schema_errors(docs)
    sts = find(docs, "StatefulSet", "nats")
    pod = sts["spec"]["template"]["spec"]
    container = pod["containers"][0]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    auth_volume = next(name for name, v in volumes.items() if v.get("secret", {}).get("secretName") == "nats-auth")
    assert volumes[auth_volume]["secret"].get("optional", False) is False
    assert secret_data(docs, "nats-auth") == {"auth.conf": (generated.out / "auth.conf").read_text()}

    # nats.conf includes accounts.conf, which now includes the Secret's file where the pod mounts it.
    data = config_data(docs, "nats-config")
    assert "include ./accounts.conf" in data["nats.conf"]
    accounts = [line for line in data["accounts.conf"].splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert len(accounts) == 1, "only the include: no config-level mappings, no other auth"
    include = re.fullmatch(r"include (\S+)", accounts[0])[1]
    config_dir = posixpath.dirname(container["command"][-1])
    assert mounts["config"] == config_dir
    assert posixpath.normpath(posixpath.join(config_dir, include)) == f"{mounts[auth_volume]}/auth.conf"
    # The resolver keeps account updates on the JetStream PVC.
    resolver_dir = parse_auth_conf(secret_data(docs, "nats-auth")["auth.conf"])["resolver"]["dir"]
    store_dir = re.search(r"store_dir: (\S+)", data["nats.conf"])[1]
    assert mounts["data"] == store_dir
    assert posixpath.commonpath([resolver_dir, store_dir]) == store_dir
    assert posixpath.commonpath([resolver_dir, f"{store_dir}/jetstream"]) != f"{store_dir}/jetstream"
    if target == "overlays/prod":
        assert "routes" in data["cluster.conf"], "the component must leave prod's cluster block alone"

    # Every service: its own generated Secret, required, and the credentials variable.
    for service in SERVICES:
        spec = workload(docs, service)["spec"]["template"]["spec"]
        volume = next(v for v in spec["volumes"] if v["name"] == "nats-creds")
        assert volume["secret"] == {"secretName": f"{service}-nats-creds", "optional": False}
        mount = next(m["mountPath"] for m in spec["containers"][0]["volumeMounts"] if m["name"] == "nats-creds")
        env = effective_env(docs, spec["containers"][0])
        assert env["SIGHTLINE_NATS_CREDENTIALS_FILE"] == f"{mount}/nats.creds"
        assert secret_data(docs, f"{service}-nats-creds") == {"nats.creds": (generated.out / f"{service}.creds").read_text()}


# --- the rendered hub, running ---
@dataclass
class Errors:
    """A client's asynchronous errors (the server's permission violations)."""

    seen: list[str] = field(default_factory=list)

    async def record(self, err: Exception) -> None:
        self.seen.append(str(err).lower())

    async def wait_for(self, *words: str, timeout_s: float = 3.0) -> bool:
        for _ in range(int(timeout_s / 0.05)):
            if any(all(word.lower() in seen for word in words) for seen in self.seen):
                return True
            await asyncio.sleep(0.05)
        return False


async def _cli_async(*args: str) -> tuple[int, str]:
    command = str(VENV_BIN / "sightline")
    process = await asyncio.create_subprocess_exec(command, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode, output.decode()


async def test_rendered_hub_requires_credentials_and_enforces_them(rendered, generated: Generated, tmp_path: Path) -> None:
    docs = rendered("base")
    ports = {name: free_port() for name in ("client", "monitor", "leafnodes")}
    conf = lay_out_pod(docs, tmp_path / "pod", ports)
    # The resolver directory, in the Secret's file, moved with the store (not /data on this machine).
    laid_out = parse_auth_conf((tmp_path / "pod" / "etc" / "nats-auth" / "auth.conf").read_text())
    assert laid_out["resolver"]["dir"] == str(tmp_path / "pod" / "data" / "resolver")
    # The services' credentials as the rendered Secrets carry them.
    creds = {s: auth.write_secret(tmp_path / "creds" / f"{s}.creds", secret_data(docs, f"{s}-nats-creds")["nats.creds"]) for s in SERVICES}
    authority = generated.authority()
    state = ("--state-dir", str(generated.state))
    clients: list[nats.NATS] = []

    async def connect(credentials: Path, errors: Errors | None = None, **options) -> nats.NATS:
        errors = errors or Errors()
        nc = await nats.connect(hub.url, user_credentials=str(credentials), error_cb=errors.record, connect_timeout=2, **options)
        clients.append(nc)
        return nc

    async with running_nats(conf, ports) as hub:
        try:
            with pytest.raises(nats.errors.Error, match="Authorization Violation"):
                await nats.connect(hub.url, allow_reconnect=False, connect_timeout=2)

            admin = await connect(generated.state / "creds" / "admin.creds")
            # The mapping comes from the SIGHTLINE account JWT (nats-server adds its own $JS ones).
            detail = (await hub.get(f"accountz?acc={authority.account}"))["account_detail"]
            mappings = {s: d for s, d in detail.get("mappings", {}).items() if not s.startswith("$JS.")}
            assert mappings == account_mappings()

            # overlay draws on a display, may not forge asr's transcripts: the server
            # drops the forged message (sent first on the same connection, so it
            # would arrive first) and reports the violation.
            seen: asyncio.Queue[str] = asyncio.Queue()

            async def on_message(msg) -> None:
                await seen.put(msg.subject)

            await admin.subscribe("glasses.a.down.display", cb=on_message)
            await admin.subscribe("asr.final.a", cb=on_message)
            await admin.flush()
            overlay_errors = Errors()
            # Replies reach a service only under its own inbox prefix (the runtime sets it).
            overlay = await connect(creds["overlay"], overlay_errors, inbox_prefix=auth.service_inbox_prefix("overlay"))
            await overlay.publish("asr.final.a", b"forged")
            await overlay.publish("glasses.a.down.display", b"update")
            await overlay.flush()
            assert await asyncio.wait_for(seen.get(), 5) == "glasses.a.down.display"
            assert await overlay_errors.wait_for("permissions violation", "asr.final.a")

            # A JetStream stream op, as every service does at start-up, in the hub's domain;
            # deleting a stream is refused.
            js = overlay.jetstream(timeout=1)
            assert (await js.account_info()).domain == "hub"
            config = streams.GLASSES_UP.config()
            config.description = "as the services declared it"
            await js.add_stream(config)
            with pytest.raises(nats.errors.TimeoutError):
                await js.delete_stream(streams.GLASSES_UP.name)
            assert await overlay_errors.wait_for("permissions violation", "$JS.API.STREAM.DELETE")

            # A device provisioned against this hub with the same authority, as the docs say.
            code, printed = await _cli_async("devices", "add", "lab-1", "--server", hub.url, *state)
            assert code == 0, printed
            device_creds = generated.state / "creds" / "devices" / "lab-1.creds"
            assert str(device_creds) in printed.replace("\n", "")
            assert not [s for s in seeds_and_jwts(device_creds.read_text()) if s in printed]
            up = await admin.jetstream().stream_info(streams.GLASSES_UP.name)
            assert up.config.description == "as the services declared it", "provisioning must not reset the services' stream"
            assert [s.external.api for s in up.config.sources] == ["$JS.edge-lab-1.API"]

            # Its audio reaches asr on its partition; so does everyone's.
            audio: asyncio.Queue[str] = asyncio.Queue()

            async def on_audio(msg) -> None:
                await audio.put(msg.subject)

            asr_errors = Errors()
            asr = await connect(creds["asr"], asr_errors, inbox_prefix=auth.service_inbox_prefix("asr"))
            await asr.subscribe("glasses.*.up.audio.*", cb=on_audio)
            await asr.flush()
            device = await connect(device_creds, allow_reconnect=False)
            await device.publish("glasses.lab-1.up.audio", b"frame")
            await device.flush()
            assert await asyncio.wait_for(audio.get(), 5) == f"glasses.lab-1.up.audio.{partitions.partition_of('lab-1')}"
            devices = [f"dev{i}" for i in range(32)]
            for name in devices:
                await admin.publish(f"glasses.{name}.up.audio", b"frame")
            await admin.flush()
            got = [await asyncio.wait_for(audio.get(), 5) for _ in devices]
            assert got == [f"glasses.{d}.up.audio.{partitions.partition_of(d)}" for d in devices]
            assert len({subject.rsplit(".", 1)[1] for subject in got}) == partitions.AUDIO_PARTITIONS
            # asr may not draw on displays.
            await asr.publish("glasses.a.down.display", b"forged")
            await asr.flush()
            assert await asr_errors.wait_for("permissions violation", "glasses.a.down.display")

            # Revocation through the hub's system account: the device is cut off at once.
            stolen = auth.write_secret(tmp_path / "stolen.creds", device_creds.read_text())
            code, printed = await _cli_async("devices", "revoke", "lab-1", "--server", hub.url, *state)
            assert code == 0, printed
            for _ in range(100):
                if device.is_closed:
                    break
                await asyncio.sleep(0.05)
            assert device.is_closed
            with pytest.raises(nats.errors.Error, match="Authorization Violation"):
                await nats.connect(hub.url, user_credentials=str(stolen), allow_reconnect=False, connect_timeout=2)
        finally:
            for nc in clients:
                if not nc.is_closed:
                    await nc.close()

    # The pod restarts with the same Secret, whose preloaded account JWT predates
    # the revocation: the resolver on the PVC keeps the newer one, so the device
    # stays out, and the services are still let in.
    async with running_nats(conf, ports) as hub:
        with pytest.raises(nats.errors.Error, match="Authorization Violation"):
            await nats.connect(hub.url, user_credentials=str(stolen), allow_reconnect=False, connect_timeout=2)
        overlay = await nats.connect(hub.url, user_credentials=str(creds["overlay"]), allow_reconnect=False, connect_timeout=2)
        await overlay.close()

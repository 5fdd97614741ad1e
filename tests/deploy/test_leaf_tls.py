"""TLS on the cluster hub's leafnode port: `sightline k8s leaf-tls` writes the
Secret nats-leaf-tls from the dev CA, components/leaf-tls serves the port with
it. A team's overlay using both is rendered with a real kubectl and validated;
then its hub config and Secret, laid out as the pod mounts them, run in a real
nats-server, and the glasses' edge node (sightline_glasses.edge, as
`sightline glasses --tls-ca` starts it) connects as a leaf with the CA and a
message crosses; without TLS or with another CA it does not connect. With
components/nats-auth in the same overlay the leaf also needs a device's
credentials."""

from __future__ import annotations

import asyncio
import os
import posixpath
import re
import socket
import stat
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import nats
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sightline_cli import tls
from sightline_cli.main import app
from sightline_glasses.edge import EdgeNode
from sightline_glasses.settings import EdgeSettings
from sightline_runtime import auth
from sightline_runtime.processes import free_port
from typer.testing import CliRunner

from tests.deploy.helpers import (
    K8S,
    Doc,
    Hub,
    config_data,
    find,
    kustomize,
    lay_out_pod,
    running_nats,
    schema_errors,
    secret_data,
    sightline,
)

COMPONENT = K8S / "components" / "leaf-tls"
AUTH_COMPONENT = K8S / "components" / "nats-auth"
TARGETS = ("base", "overlays/prod")
HOST = "nats-leafnodes.example.com"
# The positive case connects in well under a second; a refused leaf gets this
# long, several of nats-server's 1 s reconnect attempts.
LEAF_WAIT_S = 3.0


@dataclass(frozen=True)
class Generated:
    root: Path
    out: Path
    state: Path
    printed: str
    # `sightline k8s auth` output, for the overlay with both components.
    auth_out: Path


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Generated:
    """Both commands run as a team would: into their overlay's leaf-tls/ and
    auth/, with the CA and the authority kept elsewhere, in one state dir."""
    root = tmp_path_factory.mktemp("k8s-leaf-tls")
    out, state = root / "overlay" / "leaf-tls", root / "keys"
    result = sightline("k8s", "leaf-tls", "--out", str(out), "--host", HOST, "--state-dir", str(state))
    assert result.returncode == 0, result.stdout + result.stderr
    auth_out = root / "overlay" / "auth"
    auth_result = sightline("k8s", "auth", "--out", str(auth_out), "--state-dir", str(state))
    assert auth_result.returncode == 0, auth_result.stdout + auth_result.stderr
    return Generated(root, out, state, result.stdout + result.stderr, auth_out)


def team_overlay(generated: Generated, target: str, *, with_auth: bool) -> Path:
    """An overlay on `target` with the generated Secret(s) and the component(s)."""
    folder = generated.root / f"{target.replace('/', '-')}{'-auth' if with_auth else ''}"
    folder.mkdir(exist_ok=True)

    def rel(path: Path) -> str:
        return os.path.relpath(path, folder)

    resources = [K8S / target, generated.out] + ([generated.auth_out] if with_auth else [])
    components = [COMPONENT] + ([AUTH_COMPONENT] if with_auth else [])
    (folder / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f"resources: [{', '.join(map(rel, resources))}]\ncomponents: [{', '.join(map(rel, components))}]\n"
    )
    return folder


@pytest.fixture(scope="module")
def rendered(kubectl: str, generated: Generated) -> Callable[..., list[Doc]]:
    cache: dict[tuple[str, bool], list[Doc]] = {}

    def _render(target: str, *, with_auth: bool = False) -> list[Doc]:
        if (target, with_auth) not in cache:
            cache[target, with_auth] = kustomize(kubectl, team_overlay(generated, target, with_auth=with_auth))
        return cache[target, with_auth]

    return _render


def san(cert: x509.Certificate) -> list[str]:
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return [*names.get_values_for_type(x509.DNSName), *map(str, names.get_values_for_type(x509.IPAddress))]


# --- the command ---
def test_command_writes_the_secret_from_the_dev_ca_and_prints_only_paths(generated: Generated, tmp_path: Path) -> None:
    out = generated.out
    assert sorted(p.name for p in out.iterdir()) == [".gitignore", "ca.crt", "kustomization.yaml", "tls.crt", "tls.key"]
    assert stat.S_IMODE((out / "tls.key").stat().st_mode) == 0o600

    # The CA and certificate are the dev CA's (sightline certs init's layout in the state dir), not a copy of its code.
    dev = tls.TlsFiles(generated.state / "tls")
    assert (out / "ca.crt").read_text() == dev.ca.read_text()
    assert (out / "tls.crt").read_text() == dev.cert.read_text()
    assert (out / "tls.key").read_text() == dev.key.read_text()

    ca = x509.load_pem_x509_certificate((out / "ca.crt").read_bytes())
    cert = x509.load_pem_x509_certificate((out / "tls.crt").read_bytes())
    cert.verify_directly_issued_by(ca)
    assert HOST in san(cert)
    assert [u.dotted_string for u in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value] == ["1.3.6.1.5.5.7.3.1"]
    key = serialization.load_pem_private_key((out / "tls.key").read_bytes(), password=None)
    assert key.public_key() == cert.public_key()

    # Paths are printed, the keys never.
    printed = generated.printed.replace("\n", "")
    for path in (out / "tls.crt", out / "tls.key", out / "ca.crt", out / "kustomization.yaml", dev.root):
        assert str(path) in printed
    for secret in (dev.key, dev.ca_key):
        body = "".join(secret.read_text().splitlines()[1:-1])
        assert body[:40] not in printed.replace(" ", "")
    assert "outside the repository" in printed

    # git ignores the key, not the certificates or the kustomization.
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / ".gitignore").write_text((out / ".gitignore").read_text())
    candidates = ["tls.key", "tls.crt", "ca.crt", "kustomization.yaml"]
    ignored = subprocess.run(["git", "-C", str(repo), "check-ignore", *candidates], capture_output=True, text=True, check=False)
    assert ignored.stdout.split() == ["tls.key"]


def test_rerun_keeps_the_ca_and_a_new_host_needs_force(tmp_path: Path) -> None:
    out, state = tmp_path / "leaf-tls", tmp_path / "keys"
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(app, ["k8s", "leaf-tls", "--out", str(out), "--state-dir", str(state), *args])

    assert run("--host", HOST).exit_code == 0
    before = {name: (out / name).read_text() for name in ("tls.crt", "tls.key", "ca.crt")}
    again = run("--host", HOST)
    assert again.exit_code == 0, again.output
    assert "kept in" in again.output
    assert {name: (out / name).read_text() for name in before} == before

    # The certificate does not cover another name: refused, nothing changed; --force reissues CA and certificate.
    other = run("--host", "leaf.example.org", "--host", "203.0.113.7")
    assert other.exit_code == 2
    assert "does not cover leaf.example.org, 203.0.113.7" in " ".join(other.output.split())
    assert {name: (out / name).read_text() for name in before} == before
    forced = run("--host", "leaf.example.org", "--host", "203.0.113.7", "--force")
    assert forced.exit_code == 0, forced.output
    cert = x509.load_pem_x509_certificate((out / "tls.crt").read_bytes())
    assert {"leaf.example.org", "203.0.113.7"} <= set(san(cert))
    assert (out / "ca.crt").read_text() != before["ca.crt"]
    cert.verify_directly_issued_by(x509.load_pem_x509_certificate((out / "ca.crt").read_bytes()))

    # A damaged certificate in the state dir is reported, not a traceback.
    (state / "tls" / "hub.pem").write_text("not a certificate\n")
    damaged = run("--host", "leaf.example.org")
    assert damaged.exit_code == 2
    assert "is not a readable certificate" in " ".join(damaged.output.split())

    # The CA key never goes among the manifests.
    inside = runner.invoke(app, ["k8s", "leaf-tls", "--out", str(tmp_path / "m"), "--host", HOST, "--state-dir", str(tmp_path / "m" / "k")])
    assert inside.exit_code == 2
    assert not (tmp_path / "m").exists()


# --- the component, rendered ---
@pytest.mark.parametrize("target", TARGETS)
def test_overlay_with_the_component_renders_and_validates(rendered, generated: Generated, target: str) -> None:
    docs = rendered(target)
    assert not schema_errors(docs)
    secret = find(docs, "Secret", "nats-leaf-tls")
    assert secret["type"] == "kubernetes.io/tls"
    assert secret_data(docs, "nats-leaf-tls") == {name: (generated.out / name).read_text() for name in ("tls.crt", "tls.key", "ca.crt")}

    pod = find(docs, "StatefulSet", "nats")["spec"]["template"]["spec"]
    container = pod["containers"][0]
    volume = next(v for v in pod["volumes"] if v.get("secret", {}).get("secretName") == "nats-leaf-tls")
    assert volume["secret"].get("optional", False) is False
    assert volume["secret"]["defaultMode"] == 0o440
    mount = next(m for m in container["volumeMounts"] if m["name"] == volume["name"])
    assert mount["readOnly"] is True

    # nats.conf's leafnodes block includes leaf-tls.conf, which now holds the tls
    # block pointing at the Secret's keys where the pod mounts them.
    data = config_data(docs, "nats-config")
    block = re.search(r"^leafnodes \{(.*?)^\}", data["nats.conf"], re.M | re.S)[1]
    assert re.search(r"^\s*include \./leaf-tls\.conf$", block, re.M)
    tls_block = re.search(r"^tls \{(.*?)^\}", data["leaf-tls.conf"], re.M | re.S)[1]
    files = dict(re.findall(r"^\s*(cert_file|key_file|ca_file): (\S+)$", tls_block, re.M))
    assert files == {"cert_file": f"{mount['mountPath']}/tls.crt", "key_file": f"{mount['mountPath']}/tls.key"}
    assert posixpath.dirname(container["command"][-1]) == next(m["mountPath"] for m in container["volumeMounts"] if m["name"] == "config")
    # The rest of the hub's config is the base's (or prod's).
    assert "mappings" in data["accounts.conf"]
    if target == "overlays/prod":
        assert "routes" in data["cluster.conf"], "the component must leave prod's cluster block alone"


@pytest.mark.parametrize("target", TARGETS)
def test_overlay_with_leaf_tls_and_nats_auth_renders_and_validates(rendered, target: str) -> None:
    docs = rendered(target, with_auth=True)
    assert not schema_errors(docs)
    data = config_data(docs, "nats-config")
    assert "cert_file" in data["leaf-tls.conf"]
    assert "include ../nats-auth/auth.conf" in data["accounts.conf"]
    pod = find(docs, "StatefulSet", "nats")["spec"]["template"]["spec"]
    assert {v.get("secret", {}).get("secretName") for v in pod["volumes"]} >= {"nats-leaf-tls", "nats-auth"}


# --- the rendered hub, running ---
@contextmanager
def edge(tmp_path: Path, device: str, leaf_port: int, **settings: str) -> Iterator[EdgeNode]:
    """The glasses' edge node, configured as `sightline glasses` does (leaf URL, --tls-ca, --creds)."""
    node = EdgeNode(device, tmp_path / "edge" / device, settings=EdgeSettings(**settings), leaf_urls=[f"nats-leaf://127.0.0.1:{leaf_port}"])
    node.start()
    try:
        yield node
    finally:
        node.stop()


async def leaf_count(hub: Hub) -> int:
    return len((await hub.get("leafz")).get("leafs") or [])


async def crosses(hub_client: nats.NATS, node: EdgeNode, device: str, timeout_s: float = 5.0) -> bool:
    """A display update published at the hub reaches a client of the edge
    (published until the edge's interest has crossed the leaf)."""
    local = await nats.connect(node.url, connect_timeout=2)
    try:
        sub = await local.subscribe(f"glasses.{device}.down.display")
        await local.flush()
        for _ in range(int(timeout_s / 0.1)):
            await hub_client.publish(f"glasses.{device}.down.display", b"update")
            await hub_client.flush()
            try:
                return (await sub.next_msg(timeout=0.1)).data == b"update"
            except nats.errors.TimeoutError:
                continue
        return False
    finally:
        await local.close()


def plain_tcp_refused(port: int) -> tuple[bool, bool]:
    """(the port announces tls_required, a plain-text CONNECT gets the
    connection closed without a PONG)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        info = sock.recv(4096).decode()
        sock.sendall(b'CONNECT {"verbose":false}\r\nPING\r\n')
        received = b""
        try:
            while chunk := sock.recv(4096):
                received += chunk
        except (ConnectionResetError, TimeoutError):
            pass
    return '"tls_required":true' in info, b"PONG" not in received


async def test_rendered_hub_serves_the_leaf_link_over_tls_only(rendered, generated: Generated, tmp_path: Path) -> None:
    docs = rendered("base")
    ports = {name: free_port() for name in ("client", "monitor", "leafnodes")}
    conf = lay_out_pod(docs, tmp_path / "pod", ports)
    # Another team's CA: a leaf trusting it must not accept this hub.
    stranger = tls.create(tmp_path / "stranger-ca", hosts=[HOST])
    ca = str(generated.out / "ca.crt")
    async with running_nats(conf, ports) as hub:
        leaf = (await hub.get("varz"))["leaf"]
        assert leaf["tls_required"] is True
        assert leaf["tls_timeout"] == 5
        assert await asyncio.to_thread(plain_tcp_refused, ports["leafnodes"]) == (True, True)

        hub_client = await hub.connect()
        try:
            # No CA given (the system's roots) and another CA: the leaf never comes up.
            with (
                edge(tmp_path, "plain", ports["leafnodes"]) as plain,
                edge(tmp_path, "wrong", ports["leafnodes"], leaf_tls_ca_file=str(stranger.ca)) as wrong,
            ):
                assert not await plain.wait_leaf(LEAF_WAIT_S)
                assert not wrong.leaf_up()
                # Refused in the TLS handshake: the hub's certificate is not one they trust.
                assert "unknown authority" in plain.server.log_tail(5)
                assert "unknown authority" in wrong.server.log_tail(5)
                assert await leaf_count(hub) == 0
                assert not await crosses(hub_client, wrong, "wrong", timeout_s=0.5)

            # The CA of the generated Secret: the leaf comes up over TLS and a message crosses it.
            with edge(tmp_path, "lab", ports["leafnodes"], leaf_tls_ca_file=ca) as good:
                assert await good.wait_leaf(LEAF_WAIT_S)
                assert await leaf_count(hub) == 1
                assert await crosses(hub_client, good, "lab")
        finally:
            await hub_client.close()


async def test_rendered_hub_with_nats_auth_wants_tls_and_device_credentials(rendered, generated: Generated, tmp_path: Path) -> None:
    docs = rendered("base", with_auth=True)
    ports = {name: free_port() for name in ("client", "monitor", "leafnodes")}
    conf = lay_out_pod(docs, tmp_path / "pod", ports)
    authority = auth.Authority.load_or_create(generated.state / "auth")
    device_creds = auth.write_secret(tmp_path / "lab.creds", authority.issue("device-lab", auth.device_permissions("lab"))[0])
    ca = str(generated.out / "ca.crt")
    async with running_nats(conf, ports) as hub:
        assert (await hub.get("varz"))["leaf"]["tls_required"] is True
        admin = await hub.connect(user_credentials=str(generated.state / "creds" / "admin.creds"))
        try:
            # TLS alone does not let a leaf in: it needs a device's credentials.
            with edge(tmp_path, "anon", ports["leafnodes"], leaf_tls_ca_file=ca) as anonymous:
                assert not await anonymous.wait_leaf(LEAF_WAIT_S)
                # Past the TLS handshake, refused by the hub's auth.
                assert "Authorization Violation" in anonymous.server.log_tail(5)
                assert await leaf_count(hub) == 0
            with edge(tmp_path, "lab", ports["leafnodes"], leaf_tls_ca_file=ca, leaf_credentials_file=str(device_creds)) as good:
                assert await good.wait_leaf(LEAF_WAIT_S)
                assert await crosses(admin, good, "lab")
        finally:
            await admin.close()

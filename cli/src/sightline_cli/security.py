"""The local stack's identities: the authority (operator and account keys),
every user's credentials, the leafnode TLS files, and the provisioning and
revocation of devices. Layout under the state dir:

    auth/      operator.nk, system.nk, account.nk, revocations.json   (0700 / 0600)
    creds/     admin.creds, system.creds, demo-director.creds,
               services/<service>.creds, devices/<device>.creds      (0700 / 0600)
    tls/       ca.pem, ca-key.pem, hub.pem, hub-key.pem
    nats/resolver/   the hub's account JWTs (full resolver)
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from nats.aio.client import Client
from nats.js.errors import NotFoundError
from sightline.v1.device_pb2 import DeviceRecord
from sightline_runtime import auth, streams
from sightline_runtime.devices import DeviceRegistry, is_active
from sightline_runtime.surface import load_surface

from sightline_cli import tls

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LocalSecurity:
    state_dir: Path

    @property
    def creds(self) -> auth.CredentialsDir:
        return auth.CredentialsDir(self.state_dir / "creds")

    @property
    def tls(self) -> tls.TlsFiles:
        return tls.TlsFiles(self.state_dir / "tls")

    @property
    def resolver_dir(self) -> Path:
        return self.state_dir / "nats" / "resolver"

    def authority(self) -> auth.Authority:
        return auth.Authority.load_or_create(self.state_dir / "auth")

    def has_authority(self) -> bool:
        return (self.state_dir / "auth" / "account.nk").exists()

    def prepare_hub(self, services: tuple[str, ...]) -> dict[str, object]:
        """Everything `sightline up` needs before starting the hub: keys,
        credentials for the admin, the system user, each service and the demo
        director, the TLS files; returns the hub's extra nats-server config."""
        authority = self.authority()
        creds = self.creds
        auth.ensure_creds(creds.admin(), lambda: authority.issue("admin"))
        auth.ensure_creds(creds.system(), lambda: authority.issue("system", system=True))
        for service in services:
            # Reissued when the service's declaration changed what it may do.
            permissions = auth.service_permissions(load_surface(service))
            path = creds.service(service)
            if not creds_still_valid(path, authority, permissions):
                auth.write_secret(path, authority.issue(f"service-{service}", permissions)[0])
        tls.create(self.tls.root)
        self.resolver_dir.mkdir(parents=True, exist_ok=True)
        return authority.server_config(self.resolver_dir)

    def director_creds(self, device_id: str) -> Path:
        authority = self.authority()
        path = self.creds.director()
        auth.ensure_creds(path, lambda: authority.issue("demo-director", auth.director_permissions(device_id)))
        return path


_JWT_IN_CREDS = re.compile(r"-----BEGIN NATS USER JWT-----\s*(\S+)")


def _issued_claims(path: Path) -> dict | None:
    """The user JWT claims of an existing .creds file (None: none readable)."""
    try:
        match = _JWT_IN_CREDS.search(path.read_text())
        return auth.decode_claims(match[1]) if match else None
    except (OSError, ValueError):  # unreadable or not a JWT: issue a new one
        return None


def creds_still_valid(path: Path, authority: auth.Authority, permissions: auth.Permissions) -> bool:
    """A service's credentials are kept when this authority's account issued
    them, they are not revoked and their permissions are today's; so a re-run
    changes nothing that works, and a release that changes a service's
    declaration gets new credentials."""
    claims = _issued_claims(path)
    if claims is None or claims.get("iss") != authority.account or claims.get("sub") in authority.revocations:
        return False
    wanted = permissions.claims()
    return all(claims.get("nats", {}).get(key) == wanted.get(key) for key in ("pub", "sub", "resp"))


async def provision_device(
    admin_nc: Client,
    security: LocalSecurity,
    device_id: str,
    *,
    display_name: str = "",
    target_language: str = "",
    source: bool = True,
) -> tuple[DeviceRecord, Path, bool]:
    """Registry record + credentials (0600) + the hub's up-link source.
    Idempotent: an active device whose credentials file still matches its
    registered key keeps them. Returns (record, creds path, newly issued)."""
    js = admin_nc.jetstream()
    registry = DeviceRegistry(js)
    authority = security.authority()
    path = security.creds.device(device_id)
    record = await registry.get(device_id)
    issued = False
    if not (is_active(record) and record.public_key and auth.creds_public_key(path) == record.public_key):
        text, key = authority.issue(f"device-{device_id}", auth.device_permissions(device_id))
        auth.write_secret(path, text)
        issued = True
        record = await registry.add(device_id, display_name=display_name, target_language=target_language)
        previous = record.public_key
        record.public_key = key
        await registry.put(record)
        if previous and previous != key:
            # A key that is replaced must not keep working.
            authority.revoke(previous)
    if source:
        await ensure_source(admin_nc, device_id)
    return record, path, issued


async def ensure_source(admin_nc: Client, device_id: str) -> None:
    """The hub's GLASSES_UP sources this device's edge up-link."""
    js = admin_nc.jetstream()
    # Created only if missing: an existing stream is the services' (in a
    # cluster with 3 replicas), and updating it to the CLI's defaults would
    # scale it down to one and reset their settings.
    try:
        await js.stream_info(streams.GLASSES_UP.name)
    except NotFoundError:
        await streams.ensure_stream(js, streams.GLASSES_UP)
    await streams.ensure_uplink_source(js, device_id)


class NotProvisioned(LookupError):
    pass


async def revoke_device(admin_nc: Client, system_nc: Client, security: LocalSecurity, device_id: str) -> DeviceRecord:
    """Registry revoked, the key revoked on the hub (live connections closed,
    reconnects refused), the credentials file removed, the up-link source removed."""
    js = admin_nc.jetstream()
    registry = DeviceRegistry(js)
    record = await registry.revoke(device_id)
    if record is None:
        raise NotProvisioned(f"no device {device_id!r}")
    authority = security.authority()
    path = security.creds.device(device_id)
    keys = {key for key in (record.public_key, auth.creds_public_key(path)) if key}
    for key in keys:
        authority.revoke(key)
    await auth.push_account(system_nc, authority.account_jwt())
    path.unlink(missing_ok=True)
    await streams.remove_uplink_source(js, device_id)
    return record

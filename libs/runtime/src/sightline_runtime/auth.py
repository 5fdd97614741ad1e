"""Who may connect to the hub and what each may do: NATS decentralized JWT auth.

One operator signs two accounts: SYS (the server's system account, used only
to push account updates) and SIGHTLINE (everything else). Every service,
every pair of glasses, the admin CLI and the demo director are users of
SIGHTLINE with their own NKey and a user JWT signed by the account key that
carries their permissions (the tables below). The hub trusts the operator
and keeps account JWTs in a `full` resolver; a revocation is a new account
JWT with the user's key in `revocations`, pushed on `$SYS.REQ.CLAIMS.UPDATE`:
the server closes that user's client and leaf connections at once and
refuses them from then on (tested against nats-server 2.15.1).

Why JWTs rather than NKey users in the server config: a config reload drops
removed users' client connections but not their leaf connections (measured),
and provisioning a device needs no server change at all (the hub verifies
the signature chain), so a fleet does not grow the server config.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nkeys

from sightline_runtime import partitions, streams, subjects
from sightline_runtime.surface import BusSurface

ACCOUNT_NAME = "SIGHTLINE"
SYSTEM_ACCOUNT_NAME = "SYS"
CLAIMS_UPDATE = "$SYS.REQ.CLAIMS.UPDATE"
# Every object store chunk a device writes is under its own token (photo_upload).
PHOTO_BUCKET = streams.PHOTOS.name


# --- inboxes: replies reach only their requester ---
def service_inbox_prefix(service: str) -> str:
    """A service's replies arrive under _INBOX.<service>; nobody else may read them."""
    return f"_INBOX.{service}"


def device_inbox_prefix(device_id: str) -> str:
    """A device's replies arrive under _INBOX.glasses.<device> (a service's
    second token is never "glasses", a nuid inbox's never is either)."""
    return f"_INBOX.glasses.{subjects.check_device_id(device_id)}"


# --- permissions ---
@dataclass(frozen=True)
class Permissions:
    """A user's publish and subscribe allow/deny lists (NATS user JWT form).
    Anything not allowed is refused; deny wins over allow."""

    pub_allow: tuple[str, ...] = ()
    sub_allow: tuple[str, ...] = ()
    pub_deny: tuple[str, ...] = ()
    sub_deny: tuple[str, ...] = ()
    # May publish one reply to each request it received (an RPC server).
    responses: bool = False

    def claims(self) -> dict[str, Any]:
        claims: dict[str, Any] = {
            "pub": _allow_deny(self.pub_allow, self.pub_deny),
            "sub": _allow_deny(self.sub_allow, self.sub_deny),
        }
        if self.responses:
            claims["resp"] = {"max": 1, "ttl": 0}
        return claims


def _allow_deny(allow: tuple[str, ...], deny: tuple[str, ...]) -> dict[str, list[str]]:
    # An empty allow list would mean "everything": say "nothing" explicitly.
    rules: dict[str, list[str]] = {"allow": list(allow) if allow else ["_NOTHING_"]}
    if deny:
        rules["deny"] = list(deny)
    return rules


def device_permissions(device_id: str) -> Permissions:
    """What a pair of glasses may do, as a direct client or as a leaf node.

    Over the leaf, "publish" is what the edge may send up and "subscribe" what
    it may receive. Sourcing needs: the hub's requests to the edge's own
    JetStream domain (down), their replies on $JSC.R.* (up), the sourced
    messages themselves (they cross on their original subjects), heartbeats and
    flow control on the deliver subject (up) and the hub's flow-control answers
    (down). The hub's own $JS API is never reachable.
    """
    d = subjects.check_device_id(device_id)
    return Permissions(
        pub_allow=(
            f"glasses.{d}.up.input",
            f"glasses.{d}.up.photo",
            f"glasses.{d}.up.audio",
            # The hub maps audio onto a partition before checking permissions.
            f"glasses.{d}.up.audio.*",
            streams.uplink_deliver_subject(d),
            # Photo chunks under the device's own token only. The meta subject
            # (base64 of the name) cannot be scoped per device, so vision
            # writes every meta itself (sightline_runtime.objects).
            f"$O.{PHOTO_BUCKET}.C.{d}.>",
            "$JSC.R.>",
            # Requests about its own data only (a service's per-device Serve).
            f"glasses.{d}.rpc.>",
        ),
        sub_allow=(
            subjects.down_display(d),
            subjects.down_command(d),
            f"{device_inbox_prefix(d)}.>",
            f"{streams.edge_api_prefix(d)}.>",
            f"$JS.FC.{streams.edge_uplink_stream(d).name}.>",
        ),
    )


def service_permissions(surface: BusSurface) -> Permissions:
    """A service's user, derived from its bus surface: what it declares it
    publishes, calls, subscribes and serves; its errors, dead letters, audit
    records and presence; its inbox; the JetStream API of its account
    (streams are declared at start-up; deleting one is refused) and acks;
    the registry (privacy state) only if it handles sensor data, its dedup
    inbox only if a handler dedups, and the buckets and object stores it
    declares it writes."""
    service = surface.service
    writes = [f"$KV.{use.bucket.name}.>" for use in surface.buckets if use.writes]
    writes += [f"$O.{use.store.name}.>" for use in surface.object_stores if use.writes]
    if surface.sensors:
        writes.append(f"$KV.{streams.DEVICES.name}.*")
    if surface.dedup:
        writes.append(f"$KV.inbox_{service}.>")
    return Permissions(
        pub_allow=tuple(
            dict.fromkeys(
                (
                    *surface.publish_subjects(),
                    *(call.subject for call in surface.calls),
                    f"errors.{service}.*",
                    f"dlq.{service}.*",
                    "audit.*",
                    # Presence beats (sightline_runtime.presence): its own subject only.
                    f"presence.{service}",
                    "$JS.API.>",
                    "$JS.ACK.>",
                    *writes,
                )
            )
        ),
        pub_deny=("$JS.API.STREAM.DELETE.>",),
        sub_allow=(
            *surface.core_subscribe_subjects(),
            *(f"presence.{watched}" for watched in surface.watches),
            f"{service_inbox_prefix(service)}.>",
        ),
        # Only a service answering requests may publish to their reply subjects.
        responses=bool(surface.serves),
    )


def director_permissions(device_id: str) -> Permissions:
    """The demo director stands in for services that are not built yet: it
    may only draw on the demo device's display."""
    return Permissions(pub_allow=(subjects.down_display(device_id),))


# --- JWTs ---
def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def new_seed(prefix: int) -> str:
    return nkeys.encode_seed(os.urandom(32), prefix).decode()


def public_key(seed: str) -> str:
    return nkeys.from_seed(bytearray(seed.encode())).public_key.decode()


def encode_jwt(issuer_seed: str, subject: str, name: str, nats: dict[str, Any]) -> str:
    """A NATS JWT (ed25519-nkey) signed by issuer_seed. jti is the base32
    SHA-512/256 of the claims, as the NATS jwt library computes it."""
    issuer = nkeys.from_seed(bytearray(issuer_seed.encode()))
    claims: dict[str, Any] = {
        "jti": "",
        "iat": int(time.time()),
        "iss": issuer.public_key.decode(),
        "name": name,
        "sub": subject,
        "nats": nats | {"version": 2},
    }
    digest = hashlib.new("sha512_256", json.dumps(claims, separators=(",", ":")).encode()).digest()
    claims["jti"] = base64.b32encode(digest).decode().rstrip("=")
    header = _b64(json.dumps({"typ": "JWT", "alg": "ed25519-nkey"}).encode())
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signature = issuer.sign(f"{header}.{body}".encode())
    return f"{header}.{body}.{_b64(signature)}"


def decode_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT, unverified (for reading back our own files)."""
    body = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def creds_text(jwt: str, seed: str) -> str:
    return (
        "-----BEGIN NATS USER JWT-----\n"
        f"{jwt}\n"
        "------END NATS USER JWT------\n\n"
        "************************* IMPORTANT *************************\n"
        "NKEY Seed printed below can be used to sign and prove identity.\n"
        "NKEYs are sensitive and should be treated as secrets.\n\n"
        "-----BEGIN USER NKEY SEED-----\n"
        f"{seed}\n"
        "------END USER NKEY SEED------\n"
    )


_CREDS_JWT = re.compile(r"-----BEGIN NATS USER JWT-----\s*(\S+)\s*------END NATS USER JWT------")


def creds_public_key(path: Path) -> str | None:
    """The user public key a .creds file authenticates as (None: not a creds file)."""
    try:
        match = _CREDS_JWT.search(path.read_text())
    except OSError:
        return None
    return decode_claims(match[1]).get("sub") if match else None


_UNLIMITED = {"subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1, "wildcards": True, "conn": -1, "leaf": -1}
_JETSTREAM = {"mem_storage": -1, "disk_storage": -1, "streams": -1, "consumer": -1}


def write_secret(path: Path, text: str) -> Path:
    """Write a secret readable by this user only (0600, directory 0700), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    tmp.replace(path)
    return path


@dataclass
class Authority:
    """The operator and account keys of one deployment, kept under `root`
    (0700; the local stack's is <state dir>/auth). Whoever holds them can
    issue and revoke credentials: keep them off the cluster in production."""

    root: Path
    operator_seed: str
    system_seed: str
    account_seed: str
    # user public key -> unix time: JWTs of that user issued before it are refused.
    revocations: dict[str, int] = field(default_factory=dict)

    @classmethod
    def load_or_create(cls, root: Path) -> Authority:
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        with _locked(root):
            seeds = {}
            for name, prefix in (
                ("operator", nkeys.PREFIX_BYTE_OPERATOR),
                ("system", nkeys.PREFIX_BYTE_ACCOUNT),
                ("account", nkeys.PREFIX_BYTE_ACCOUNT),
            ):
                path = root / f"{name}.nk"
                if not path.exists():
                    write_secret(path, new_seed(prefix))
                seeds[name] = path.read_text().strip()
            revoked = root / "revocations.json"
            revocations = json.loads(revoked.read_text()) if revoked.exists() else {}
        return cls(root, seeds["operator"], seeds["system"], seeds["account"], revocations)

    # --- keys ---
    @property
    def system_account(self) -> str:
        return public_key(self.system_seed)

    @property
    def account(self) -> str:
        return public_key(self.account_seed)

    # --- JWTs ---
    def operator_jwt(self) -> str:
        operator = public_key(self.operator_seed)
        return encode_jwt(self.operator_seed, operator, "sightline", {"type": "operator", "system_account": self.system_account})

    def system_jwt(self) -> str:
        return encode_jwt(self.operator_seed, self.system_account, SYSTEM_ACCOUNT_NAME, {"type": "account", "limits": _UNLIMITED})

    def account_jwt(self) -> str:
        """SIGHTLINE: JetStream on, the audio partition mapping (in operator
        mode mappings live in the account), and the revocations."""
        nats: dict[str, Any] = {
            "type": "account",
            "limits": _UNLIMITED | _JETSTREAM,
            "mappings": {source: [{"subject": dest, "weight": 100}] for source, dest in partitions.nats_mappings().items()},
        }
        if self.revocations:
            nats["revocations"] = dict(self.revocations)
        return encode_jwt(self.operator_seed, self.account, ACCOUNT_NAME, nats)

    def server_config(self, resolver_dir: Path) -> dict[str, Any]:
        """The hub's nats-server settings: trust this operator, keep account
        JWTs in a full resolver (updates pushed by the system account)."""
        return {
            "operator": self.operator_jwt(),
            "system_account": self.system_account,
            "resolver": {"type": "full", "dir": str(resolver_dir), "allow_delete": False},
            "resolver_preload": {self.system_account: self.system_jwt(), self.account: self.account_jwt()},
        }

    # --- users ---
    def issue(self, name: str, permissions: Permissions | None = None, *, system: bool = False) -> tuple[str, str]:
        """A new user (NKey + JWT) -> (creds file text, public key). None
        permissions = unrestricted (admin, system)."""
        seed = new_seed(nkeys.PREFIX_BYTE_USER)
        user = public_key(seed)
        nats: dict[str, Any] = {"type": "user", "subs": -1, "data": -1, "payload": -1}
        if permissions is not None:
            nats |= permissions.claims()
        jwt = encode_jwt(self.system_seed if system else self.account_seed, user, name, nats)
        return creds_text(jwt, seed), user

    def revoke(self, user_public_key: str) -> None:
        """Refuse this user's JWTs from now on (persisted; push account_jwt() to apply it live)."""
        with _locked(self.root):
            path = self.root / "revocations.json"
            current = json.loads(path.read_text()) if path.exists() else {}
            # JWT iat has one-second resolution: a JWT issued this very second is revoked too.
            current[user_public_key] = int(time.time()) + 1
            path.write_text(json.dumps(current, indent=1, sort_keys=True))
            self.revocations = current


@contextlib.contextmanager
def _locked(root: Path) -> Iterator[None]:
    with (root / ".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


class ClaimsUpdateError(RuntimeError):
    pass


async def push_account(system_nc, account_jwt: str, *, timeout_s: float = 5.0) -> None:
    """Apply an account JWT on the running hub (and its cluster peers)."""
    reply = await system_nc.request(CLAIMS_UPDATE, account_jwt.encode(), timeout=timeout_s)
    answer: Mapping[str, Any] = json.loads(reply.data or b"{}")
    if "error" in answer:
        raise ClaimsUpdateError(f"the hub refused the account update: {answer['error']}")


# --- the credentials of the local stack: <state dir>/creds ---
@dataclass(frozen=True)
class CredentialsDir:
    root: Path

    def admin(self) -> Path:
        return self.root / "admin.creds"

    def system(self) -> Path:
        return self.root / "system.creds"

    def service(self, name: str) -> Path:
        return self.root / "services" / f"{name}.creds"

    def device(self, device_id: str) -> Path:
        return self.root / "devices" / f"{subjects.check_device_id(device_id)}.creds"

    def director(self) -> Path:
        return self.root / "demo-director.creds"


def ensure_creds(path: Path, issue: Any) -> Path:
    """Keep an existing credentials file; otherwise write issue() (creds text, key)."""
    if not path.exists():
        text, _ = issue()
        write_secret(path, text)
    return path

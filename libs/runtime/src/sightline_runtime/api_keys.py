"""API keys of the services' ingresses for integrations (the photo library's
gRPC service, the notification ingress): `authorization: Bearer <key>`, each
key scoped to the devices it may reach.

Only the SHA-256 hex digest of a key is configured and kept; neither keys nor
digests are logged. A presented key is hashed and compared with every
configured digest in constant time (hmac.compare_digest, no early exit), so
the answer's timing says nothing about which digests exist.

Two configuration forms (JSON in the service's settings):
- named (NamedApiKeys): {"<sha256 hex>": {"name": "phone-companion", "devices": ["dev-1"]}}
  where "devices" may be "*" for every device; the name is who pushed what
  (the notification's source). The bare form below is accepted too.
- bare (DeviceScopedKeys): {"<sha256 hex>": ["dev-1", "dev-2"]}, the photo library's.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import PlainValidator

SHA256_HEX = re.compile(r"[0-9a-f]{64}")
# An integration's name: it becomes the source of what it sends, shown and logged.
KEY_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
ALL_DEVICES = "*"

_DIGEST_ERROR = "API keys are configured by the SHA-256 hex digest (64 lowercase hex digits) of each key, never the key"


def key_digest(key: str) -> str:
    """What keys are configured by: the SHA-256 hex of the key."""
    return hashlib.sha256(key.encode()).hexdigest()


def bearer_token(authorization: str | None) -> str | None:
    """The key of an `authorization: Bearer <key>` value; None for anything else."""
    scheme, _, key = (authorization or "").strip().partition(" ")
    key = key.strip()
    return key if scheme.lower() == "bearer" and key else None


def grpc_authorization(metadata: Iterable[tuple[str, Any]] | None) -> str | None:
    """The `authorization` entry of a gRPC call's invocation metadata."""
    for name, value in metadata or ():
        if name.lower() == "authorization" and isinstance(value, str):
            return value
    return None


@dataclass(frozen=True)
class ApiKey:
    """One configured key: who it is and which devices it may reach (None: every device)."""

    name: str
    devices: frozenset[str] | None

    def may_reach(self, device_id: str) -> bool:
        return self.devices is None or device_id in self.devices


class ApiKeyRefused(Exception):
    """A call the key does not allow; the message is safe to return to the caller."""


class Unauthenticated(ApiKeyRefused):
    """No key, another scheme than Bearer, or a key that is not configured."""


class OutOfScope(ApiKeyRefused):
    """A valid key, for a device it may not reach."""


def _grant(digest: str, value: ApiKey | Mapping[str, Any] | str | Iterable[str]) -> ApiKey:
    if isinstance(value, ApiKey):
        return value
    # A key without a name is known by the start of its digest (not a secret: the digest is not the key).
    name = f"key-{digest[:8]}"
    devices: Any = value
    if isinstance(value, Mapping):
        unknown = set(value) - {"name", "devices"}
        if unknown:
            raise ValueError(f"an API key entry has only 'name' and 'devices', not {sorted(unknown)}")
        name = value.get("name", name)
        if not isinstance(name, str) or not KEY_NAME.fullmatch(name):
            raise ValueError(f"an API key's name is 1-64 of a-z 0-9 . _ - (starting with a letter or digit), not {name!r}")
        if "devices" not in value:
            raise ValueError(f'API key {name!r} lists no devices: give "devices": [...] or "*" for every device')
        devices = value["devices"]
    if devices == ALL_DEVICES:
        return ApiKey(name, None)
    if isinstance(devices, str) or not isinstance(devices, Iterable):
        raise ValueError(f'API key {name!r}: devices is a list of device ids or "*", not {devices!r}')
    listed = frozenset(devices)
    if not all(isinstance(device, str) and device for device in listed):
        raise ValueError(f"API key {name!r}: every device id is a non-empty string")
    return ApiKey(name, listed)


class ApiKeys:
    """The configured keys of one ingress: authenticate a call, check its device."""

    def __init__(self, grants: Mapping[str, ApiKey | Mapping[str, Any] | Iterable[str]]) -> None:
        self._grants: list[tuple[bytes, ApiKey]] = []
        for digest, value in grants.items():
            normal = digest.strip().lower()
            if not SHA256_HEX.fullmatch(normal):
                raise ValueError(_DIGEST_ERROR)
            self._grants.append((normal.encode(), _grant(normal, value)))

    def __len__(self) -> int:
        return len(self._grants)

    def identify(self, authorization: str | None) -> ApiKey:
        """The key of an `authorization` value; Unauthenticated when there is none valid."""
        key = bearer_token(authorization)
        if key is None:
            raise Unauthenticated("missing or malformed API key (authorization: Bearer <key>)")
        presented = key_digest(key).encode()
        found: ApiKey | None = None
        for digest, grant in self._grants:
            # Every digest is compared, matched or not: constant time in the configured set.
            if hmac.compare_digest(presented, digest):
                found = grant
        if found is None:
            raise Unauthenticated("unknown API key")
        return found

    def authorize(self, authorization: str | None, device_id: str) -> ApiKey:
        """The key, once it may reach `device_id`: Unauthenticated, else OutOfScope."""
        grant = self.identify(authorization)
        if not grant.may_reach(device_id):
            raise OutOfScope(f"this API key may not reach device {device_id}")
        return grant


def _only_digests(keys: dict[str, Any]) -> dict[str, Any]:
    for digest in keys:
        if not SHA256_HEX.fullmatch(digest):
            raise ValueError(_DIGEST_ERROR)
    return keys


def _scoped(value: Any) -> dict[str, frozenset[str]]:
    if not isinstance(value, Mapping):
        raise ValueError('API keys are a JSON object: {"<sha256 hex>": ["device id", ...]}')
    scoped: dict[str, frozenset[str]] = {}
    for digest, devices in value.items():
        if isinstance(devices, str) or not isinstance(devices, Iterable) or not all(isinstance(d, str) for d in devices):
            raise ValueError("each API key maps to a list of device ids")
        scoped[digest] = frozenset(devices)
    return _only_digests(scoped)


def _named(value: Any) -> dict[str, ApiKey]:
    if not isinstance(value, Mapping):
        raise ValueError('API keys are a JSON object: {"<sha256 hex>": {"name": "...", "devices": [...] or "*"}}')
    _only_digests(dict(value))
    return {digest: _grant(digest, entry) for digest, entry in value.items()}


# Settings field types (pydantic), with `hide_input_in_errors=True` on the
# settings so that a key put where its digest belongs is not echoed back.
# The bare form: digest -> device ids.
DeviceScopedKeys = Annotated[dict[str, frozenset[str]], PlainValidator(_scoped)]
# The named form (the bare one is accepted too): digest -> ApiKey.
NamedApiKeys = Annotated[dict[str, ApiKey], PlainValidator(_named)]

"""API keys of the ingresses: Bearer parsing, digests, scopes, the settings types."""

from __future__ import annotations

import json

import pytest
from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict
from sightline_runtime.api_keys import (
    ALL_DEVICES,
    ApiKey,
    ApiKeys,
    DeviceScopedKeys,
    NamedApiKeys,
    OutOfScope,
    Unauthenticated,
    bearer_token,
    grpc_authorization,
    key_digest,
)

PHONE = "phone-key-0123"
OPS = "ops-key-4567"


class KeySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TEST_", frozen=True, hide_input_in_errors=True)
    named_keys: NamedApiKeys = Field(default_factory=dict)
    scoped_keys: DeviceScopedKeys = Field(default_factory=dict)


def test_key_digest_is_the_sha256_hex() -> None:
    # As docs/photo-library.md has operators compute it: printf %s "$key" | sha256sum
    assert key_digest("s3cret") == "1ec1c26b50d5d3c58d9583181af8076655fe00756bf7285940ba3670f99fcba0"


@pytest.mark.parametrize(
    ("header", "key"),
    [
        ("Bearer abc", "abc"),
        ("bearer  abc ", "abc"),
        ("Basic abc", None),
        ("Bearer", None),
        ("Bearer   ", None),
        ("abc", None),
        (None, None),
    ],
)
def test_bearer_token(header: str | None, key: str | None) -> None:
    assert bearer_token(header) == key


def test_grpc_authorization_reads_the_metadata_entry() -> None:
    assert grpc_authorization((("x-other", "1"), ("authorization", "Bearer k"))) == "Bearer k"
    assert grpc_authorization((("authorization-bin", b"\x00"),)) is None
    assert grpc_authorization(None) is None


def test_keys_identify_and_scope_calls() -> None:
    keys = ApiKeys(
        {
            key_digest(PHONE): {"name": "phone-companion", "devices": ["dev-1"]},
            key_digest(OPS).upper(): {"name": "ops", "devices": ALL_DEVICES},
            key_digest("bare"): ["dev-2", "dev-3"],
        }
    )
    assert len(keys) == 3
    assert keys.authorize(f"Bearer {PHONE}", "dev-1") == ApiKey("phone-companion", frozenset({"dev-1"}))
    assert keys.authorize(f"Bearer {OPS}", "any-device").name == "ops"
    assert keys.authorize("Bearer bare", "dev-3") == ApiKey(f"key-{key_digest('bare')[:8]}", frozenset({"dev-2", "dev-3"}))
    with pytest.raises(OutOfScope, match="may not reach device dev-2"):
        keys.authorize(f"Bearer {PHONE}", "dev-2")
    with pytest.raises(Unauthenticated, match="unknown API key"):
        keys.authorize("Bearer not-configured", "dev-1")
    with pytest.raises(Unauthenticated, match="missing or malformed"):
        keys.identify(PHONE)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"name": "Phone Companion", "devices": ["d"]}, "an API key's name is 1-64 of a-z 0-9"),
        ({"name": "phone"}, "lists no devices"),
        ({"name": "phone", "devices": "dev-1"}, 'devices is a list of device ids or "*"'),
        ({"name": "phone", "devices": [""]}, "every device id is a non-empty string"),
        ({"name": "phone", "devices": [], "admin": True}, "only 'name' and 'devices'"),
    ],
)
def test_bad_entries_are_refused_saying_why(entry: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ApiKeys({key_digest(PHONE): entry})


def test_named_settings_parse_both_forms(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_NAMED_KEYS", json.dumps({key_digest(PHONE): {"name": "phone", "devices": "*"}, key_digest(OPS): ["dev-1"]}))
    assert KeySettings().named_keys == {
        key_digest(PHONE): ApiKey("phone", None),
        key_digest(OPS): ApiKey(f"key-{key_digest(OPS)[:8]}", frozenset({"dev-1"})),
    }
    # What the settings hold builds the keys as given.
    assert ApiKeys(KeySettings().named_keys).authorize(f"Bearer {PHONE}", "dev-9").name == "phone"


def test_a_key_where_its_digest_belongs_is_refused_without_being_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    for field, value in (("TEST_NAMED_KEYS", {PHONE: {"name": "phone", "devices": "*"}}), ("TEST_SCOPED_KEYS", {PHONE: ["dev-1"]})):
        monkeypatch.setenv(field, json.dumps(value))
        with pytest.raises(ValidationError, match="SHA-256 hex digest") as refused:
            KeySettings()
        assert PHONE not in str(refused.value)
        monkeypatch.delenv(field)


def test_scoped_settings_are_digests_to_device_sets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_SCOPED_KEYS", json.dumps({key_digest(PHONE): ["dev-1", "dev-2"]}))
    assert KeySettings().scoped_keys == {key_digest(PHONE): frozenset({"dev-1", "dev-2"})}
    monkeypatch.setenv("TEST_SCOPED_KEYS", json.dumps({key_digest(PHONE): "dev-1"}))
    with pytest.raises(ValidationError, match="list of device ids"):
        KeySettings()

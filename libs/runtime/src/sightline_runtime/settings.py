"""Settings read from the environment (prefix SIGHTLINE_), composed from mixins.

A service's settings class inherits ServiceSettings and adds its own fields;
every field can be set as SIGHTLINE_<FIELD> (e.g. SIGHTLINE_NATS_URL).
OpenTelemetry export is configured with the standard OTEL_* variables.
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class _Base(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SIGHTLINE_", extra="ignore", frozen=True)


class NatsSettings(_Base):
    nats_url: str = "nats://127.0.0.1:4222"
    # Credentials file (JWT + NKey seed) or an NKey seed file; empty = anonymous.
    nats_credentials_file: str = ""
    nats_nkey_seed_file: str = ""
    nats_user: str = ""
    nats_password: SecretStr = SecretStr("")
    nats_connect_timeout_s: float = 5.0
    # Give up starting when the hub is unreachable this long: exiting lets the
    # supervisor (or Kubernetes) back off, instead of a process that never
    # serves /healthz. Once connected, reconnects are retried forever.
    nats_startup_timeout_s: float = 30.0
    # JetStream replicas for the streams and buckets a service declares:
    # 1 for a single server, 3 for a production cluster (survives a node loss).
    stream_replicas: int = Field(default=1, ge=1, le=5)


class HttpSettings(_Base):
    http_host: str = "0.0.0.0"  # noqa: S104 - containers listen on all interfaces
    http_port: int = 8080
    # gRPC health service (grpc.health.v1) for Kubernetes grpc probes; 0 = off.
    grpc_health_port: int = 0


class LimitsSettings(_Base):
    # Events above this size are refused (dead-lettered), never processed.
    max_event_bytes: int = Field(default=256 * 1024, gt=0)
    # Handler failures are retried this many times in all before dead-lettering.
    max_deliver: int = Field(default=5, ge=1)
    # How long a JetStream message may stay unacknowledged before redelivery.
    ack_wait_s: float = Field(default=30.0, gt=0)
    # Seconds to finish in-flight messages on SIGTERM.
    graceful_timeout_s: float = Field(default=15.0, gt=0)
    # Then at most this long for the NATS connection to drain (flush what is
    # buffered); handlers have finished by then, so a short bound suffices.
    drain_timeout_s: int = Field(default=5, ge=1)
    # Handlers with HandlerSpec(dedup=True) remember handled event ids this
    # long (sightline_runtime.inbox); it must outlast the longest an edge can
    # hold and re-send an event, which the JetStream 2-minute window does not.
    inbox_ttl_s: float = Field(default=14 * 24 * 3600.0, gt=0)


class LoggingSettings(_Base):
    log_level: str = "INFO"
    # "json" for machines (default), "console" for people.
    log_format: str = "json"


class RetentionSettings(_Base):
    # How long the hub keeps transcripts: final transcripts (stream ASR) and
    # final translations (stream TRANSLATION). Every service declaring those
    # streams applies it, so all must see the same value (one shared config).
    transcript_retention_hours: float = Field(default=24.0, gt=0)
    # How long a device's audit trail (stream AUDIT) is kept.
    audit_retention_days: float = Field(default=365.0, gt=0)


class ServiceSettings(NatsSettings, HttpSettings, LimitsSettings, LoggingSettings, RetentionSettings):
    """Everything a service needs from the runtime; services subclass it."""

    # Replica identity for logs and consumer names; the pod name in Kubernetes.
    instance: str = ""

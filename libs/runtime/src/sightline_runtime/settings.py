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
    # Per-device admission (sightline_runtime.admission), applied before decoding
    # to handlers whose HandlerSpec names a rate; 0 per second = no limit.
    # Audio: real time is 50 frames/s of 20 ms. Twice that, with 1 s of it at once:
    # the glasses may send up to 2x real time (AudioUplink speed), as the asr's own
    # limit in seconds of audio allows.
    admission_audio_per_s: float = Field(default=100.0, ge=0)
    admission_audio_burst: float = Field(default=100.0, ge=1)
    # Inputs (taps, commands, confirmations) and photo notices: far above what
    # a wearer does, with room for what an edge queued while offline.
    admission_input_per_s: float = Field(default=10.0, ge=0)
    admission_input_burst: float = Field(default=100.0, ge=1)
    admission_photo_per_s: float = Field(default=2.0, ge=0)
    admission_photo_burst: float = Field(default=50.0, ge=1)
    # JetStream messages over the rate wait (nak with a delay) up to this long;
    # a device further behind its rate gets the rest refused (dead-lettered).
    admission_max_delay_s: float = Field(default=60.0, gt=0)
    # At most one RATE_LIMITED ErrorEvent and log line per device and handler this often.
    admission_report_interval_s: float = Field(default=5.0, gt=0)
    # Devices remembered per handler (the least recently seen are forgotten).
    admission_max_devices: int = Field(default=50_000, gt=0)


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

"""A service's bus surface, declared once in its own package.

Every service has a `bus.py` whose `SURFACE` says what it subscribes to
(core subjects or durable consumers, with the handler method that takes
them), what it publishes (subjects, event types, the stream they land in),
the streams, KV buckets and object stores it owns (with their retention),
and the request subjects it serves and calls. Everything else is derived
from it by the runtime: the streams and consumers a Service creates at
start-up, the NATS permissions of its user (sightline_runtime.auth), and
the who-publishes-what table in docs/bus.md (`sightline bus table`).

The runtime never names a service: surfaces are found by convention
(`sightline_<service>.bus.SURFACE`) from the one list of services the CLI
keeps.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.message import Message

from sightline_runtime import subjects
from sightline_runtime.consumer import HandlerSpec
from sightline_runtime.streams import PLATFORM_STREAMS, BucketSpec, ObjectStoreSpec, StreamSpec

Settings = Any
# How long an owned stream or object store keeps data, from the service's settings.
RetentionFrom = Callable[[Settings], float]


@dataclass(frozen=True)
class Subscribe:
    """One handler: `spec` says how events reach it (core subject or durable),
    `handler` names the method of the service's handler object that takes them.

    `partitions` picks, for partitioned subscriptions (streaming ASR), which of
    `spec`'s subjects this replica takes: (settings, instance) -> subjects. The
    declared `subjects` are what any replica may take (its permissions)."""

    spec: HandlerSpec[Any]
    handler: str
    # Subjects any replica may subscribe (default: the spec's subject).
    subjects: tuple[str, ...] = ()
    partitions: Callable[[Settings, str], Sequence[str]] | None = None
    # Method called with a sensor event the guard dropped for privacy.
    on_privacy_drop: str | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def durable(self) -> bool:
        return self.spec.consumer is not None

    @property
    def permitted_subjects(self) -> tuple[str, ...]:
        return self.subjects or (self.spec.subscription_subject,)

    def replica_subjects(self, settings: Settings, instance: str) -> tuple[str, ...]:
        if self.partitions is None:
            return self.permitted_subjects
        chosen = tuple(self.partitions(settings, instance))
        stray = [s for s in chosen if not any(subjects.subject_matches(s, p) for p in self.permitted_subjects)]
        if stray:
            raise ValueError(f"{self.name}: partition subjects {stray} are outside the declared {self.permitted_subjects}")
        return chosen


@dataclass(frozen=True)
class Publish:
    """Events a service publishes: on core NATS (stream None) or into a stream."""

    subject: str
    event: type[Message]
    stream: StreamSpec | None = None
    description: str = ""


@dataclass(frozen=True)
class Serve:
    """A request subject this service answers (queue group = the service):
    `handler` takes the request body and returns (response, headers).

    `per_device`: the subject is `subjects.device_request_all(...)` and the
    handler is called with `device=` the subject's device token, which the
    hub's permissions vouch for (a device publishes only under its own), so
    the handler need not trust a device id in the body."""

    subject: str
    request: type[Message]
    response: type[Message]
    handler: str
    per_device: bool = False


@dataclass(frozen=True)
class Call:
    """A request subject this service sends requests to."""

    subject: str
    request: type[Message]
    response: type[Message]


@dataclass(frozen=True)
class OwnedStream:
    stream: StreamSpec
    # Max age from settings; None keeps the spec's.
    retention_s: RetentionFrom | None = None

    def resolved(self, settings: Settings) -> StreamSpec:
        if self.retention_s is None:
            return self.stream
        return dataclasses.replace(self.stream, max_age_s=float(self.retention_s(settings)))


@dataclass(frozen=True)
class UseBucket:
    """A KV bucket the service opens; `writes` grants put/delete on its keys."""

    bucket: BucketSpec
    writes: bool = False


@dataclass(frozen=True)
class UseObjectStore:
    """An object store the service opens (and creates, if it owns it)."""

    store: ObjectStoreSpec
    writes: bool = False
    owns: bool = False
    ttl_s: RetentionFrom | None = None
    max_bytes: Callable[[Settings], int] | None = None


@dataclass(frozen=True)
class BusSurface:
    service: str
    description: str
    subscribes: tuple[Subscribe, ...] = ()
    publishes: tuple[Publish, ...] = ()
    streams: tuple[OwnedStream, ...] = ()
    buckets: tuple[UseBucket, ...] = ()
    object_stores: tuple[UseObjectStore, ...] = ()
    serves: tuple[Serve, ...] = ()
    calls: tuple[Call, ...] = ()
    # Services whose presence beats it follows (sightline_runtime.presence):
    # the runtime opens a tracker of them for the handlers.
    watches: tuple[str, ...] = ()
    extra: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        """A surface that cannot be true fails at import, not at run time."""
        names = [s.name for s in self.subscribes]
        if len(names) != len(set(names)):
            raise ValueError(f"{self.service}: handler names repeat: {sorted(names)}")
        for sub in self.subscribes:
            consumer = sub.spec.consumer
            if consumer is not None and not consumer.durable.startswith(f"{self.service}-"):
                raise ValueError(f"{self.service}: durable {consumer.durable!r} must start with '{self.service}-'")
            if sub.spec.dedup and consumer is None:
                raise ValueError(f"{self.service}.{sub.name}: dedup=True needs a durable consumer (core NATS is not redelivered)")
        for pub in self.publishes:
            if pub.stream is not None and pub.stream in [o.stream for o in self.streams]:
                continue
            if pub.stream is not None and not any(subjects.subject_matches(pub.subject, s) for s in pub.stream.subjects):
                raise ValueError(f"{self.service}: {pub.subject} is not a subject of stream {pub.stream.name}")
        for serve in self.serves:
            # A per-device request carries the device's token where devices may publish, for every device.
            tokens = serve.subject.split(".")
            if serve.per_device and (tokens[:3] != ["glasses", "*", "rpc"] or len(tokens) < 5):
                raise ValueError(f"{self.service}: per-device request subject {serve.subject} must be subjects.device_request_all(...)")
        for owned in self.streams:
            for subject in owned.stream.subjects:
                if not any(subjects.subject_matches(p.subject, subject) for p in self.publishes):
                    raise ValueError(f"{self.service}: owns stream {owned.stream.name} but declares no publish to {subject}")

    # --- what the runtime derives ---
    @property
    def sensors(self) -> set[Any]:
        return {s.spec.sensor for s in self.subscribes if s.spec.sensor is not None}

    @property
    def dedup(self) -> bool:
        return any(s.spec.dedup for s in self.subscribes)

    def publish_subjects(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p.subject for p in self.publishes))

    def core_subscribe_subjects(self) -> tuple[str, ...]:
        core = [subject for s in self.subscribes if not s.durable for subject in s.permitted_subjects]
        return tuple(dict.fromkeys((*core, *(s.subject for s in self.serves))))

    def handler_names(self) -> tuple[str, ...]:
        names = [s.handler for s in self.subscribes] + [s.on_privacy_drop for s in self.subscribes if s.on_privacy_drop]
        return tuple(dict.fromkeys((*names, *(s.handler for s in self.serves))))


def load_surface(service: str) -> BusSurface:
    """The declaration of `service`, from its package (sightline_<service>.bus)."""
    module = importlib.import_module(f"sightline_{service}.bus")
    surface = getattr(module, "SURFACE", None)
    if not isinstance(surface, BusSurface):
        raise TypeError(f"sightline_{service}.bus has no SURFACE (a BusSurface)")
    if surface.service != service:
        raise ValueError(f"sightline_{service}.bus declares service {surface.service!r}")
    return surface


def load_surfaces(services: Sequence[str]) -> tuple[BusSurface, ...]:
    return tuple(load_surface(name) for name in services)


def deployment_streams(surfaces: Sequence[BusSurface], settings: Settings | None = None) -> tuple[StreamSpec, ...]:
    """Every stream a deployment of these services holds: the platform's and
    each service's own (with retention from `settings` when given)."""
    owned = [o.resolved(settings) if settings is not None else o.stream for s in surfaces for o in s.streams]
    return (*PLATFORM_STREAMS, *owned)

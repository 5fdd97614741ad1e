"""JetStream building blocks, and the streams and buckets of the platform.

The platform's own streams (the glasses' up-link, audit, errors, dead
letters), the device registry, the glossary and the photo store live here;
every other stream and every durable consumer belongs to the service that
declares it in its bus surface (sightline_runtime.surface). The runtime
creates or updates them at start-up (idempotent), so a fresh cluster needs
no separate job. Real-time audio and partials use core NATS only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nats.js import api
from nats.js.client import JetStreamContext
from nats.js.errors import BadRequestError, NotFoundError

from sightline_runtime import subjects

DAY = 24 * 3600.0
# JetStream's default duplicate window; longer outages need app-level dedup.
DUPLICATE_WINDOW_S = 120.0


@dataclass(frozen=True)
class StreamSpec:
    name: str
    subjects: tuple[str, ...]
    description: str
    max_age_s: float = 7 * DAY
    max_bytes: int = 1 << 30
    max_msg_size: int = 1 << 20
    duplicate_window_s: float = DUPLICATE_WINDOW_S
    storage: api.StorageType = api.StorageType.FILE
    retention: api.RetentionPolicy = api.RetentionPolicy.LIMITS
    # NEW for outboxes: refuse a new message rather than drop an unsent one.
    discard: api.DiscardPolicy = api.DiscardPolicy.OLD
    # Durable timers: the server publishes a message with a Nats-Schedule header at its time.
    allow_msg_schedules: bool = False

    def config(self, *, replicas: int = 1) -> api.StreamConfig:
        return api.StreamConfig(
            num_replicas=replicas,
            name=self.name,
            subjects=list(self.subjects),
            description=self.description,
            max_age=self.max_age_s,
            max_bytes=self.max_bytes,
            max_msg_size=self.max_msg_size,
            duplicate_window=self.duplicate_window_s,
            storage=self.storage,
            retention=self.retention,
            discard=self.discard,
            allow_msg_schedules=self.allow_msg_schedules or None,
        )


@dataclass(frozen=True)
class ConsumerSpec:
    """A durable consumer. Its name starts with the owning service's name;
    its stream is found by its filter subject (whoever owns the stream)."""

    durable: str
    filter_subject: str
    description: str = ""
    max_ack_pending: int = 1000
    deliver_policy: api.DeliverPolicy = api.DeliverPolicy.ALL
    extra: dict[str, object] = field(default_factory=dict)

    def config(self, *, ack_wait_s: float, max_deliver: int) -> api.ConsumerConfig:
        return api.ConsumerConfig(
            durable_name=self.durable,
            description=self.description or None,
            filter_subject=self.filter_subject,
            ack_policy=api.AckPolicy.EXPLICIT,
            ack_wait=ack_wait_s,
            # One more than the handler's own retry budget: the runtime
            # dead-letters on the last attempt, so JetStream never drops silently.
            max_deliver=max_deliver + 1,
            max_ack_pending=self.max_ack_pending,
            deliver_policy=self.deliver_policy,
        )


@dataclass(frozen=True)
class BucketSpec:
    name: str
    description: str
    history: int = 1
    ttl_s: float | None = None
    max_value_size: int = 64 * 1024


# --- streams ---
GLASSES_UP = StreamSpec(
    name="GLASSES_UP",
    subjects=("glasses.*.up.input", "glasses.*.up.photo"),
    description="Durable up-link from the glasses: inputs, commands, confirmations, photo notices",
    max_msg_size=1 << 20,
)
AUDIT = StreamSpec(
    name="AUDIT",
    subjects=("audit.*",),
    description="Per-device audit trail of camera and microphone processing",
    max_age_s=365 * DAY,
)
ERRORS = StreamSpec(
    name="ERRORS",
    subjects=("errors.>",),
    description="ErrorEvents: what was refused or failed, and why",
    max_age_s=14 * DAY,
)
DEAD_LETTERS = StreamSpec(
    name="DEAD_LETTERS",
    subjects=("dlq.>",),
    description="Refused payloads with their original headers, kept for inspection and replay",
    max_age_s=14 * DAY,
    max_msg_size=2 << 20,
)

# Created by every service at start-up: what the runtime itself writes or
# every device's up-link feeds.
PLATFORM_STREAMS: tuple[StreamSpec, ...] = (GLASSES_UP, AUDIT, ERRORS, DEAD_LETTERS)

# --- key-value buckets ---
DEVICES = BucketSpec(name="devices", description="Device registry: DeviceRecord by device id", history=5)
GLOSSARY = BucketSpec(name="glossary", description="Per-device translation glossary", history=1)


async def ensure_stream(js: JetStreamContext, spec: StreamSpec, *, replicas: int = 1) -> None:
    """Create the stream, or bring an existing one's config up to date."""
    config = spec.config(replicas=replicas)
    try:
        existing = await js.stream_info(spec.name)
    except NotFoundError:
        try:
            await js.add_stream(config)
            return
        except BadRequestError as err:
            # Another replica created it between our two calls.
            if getattr(err, "err_code", None) != 10058:
                raise
        existing = await js.stream_info(spec.name)
    # Sources are added at run time, one per edge device (ensure_uplink_source):
    # a service restarting must not cut every pair of glasses off.
    config.sources = existing.config.sources
    await js.update_stream(config)


async def ensure_streams(js: JetStreamContext, specs: tuple[StreamSpec, ...] | list[StreamSpec], *, replicas: int = 1) -> None:
    for spec in specs:
        await ensure_stream(js, spec, replicas=replicas)


async def ensure_bucket(js: JetStreamContext, spec: BucketSpec, *, replicas: int = 1):
    try:
        return await js.key_value(spec.name)
    except (NotFoundError, BadRequestError):
        return await js.create_key_value(
            bucket=spec.name,
            replicas=replicas,
            description=spec.description,
            history=spec.history,
            ttl=spec.ttl_s,
            max_value_size=spec.max_value_size,
        )


# --- object stores ---
@dataclass(frozen=True)
class ObjectStoreSpec:
    name: str
    description: str
    ttl_s: float | None = None
    max_bytes: int = -1


# Photos from the glasses, one namespace per device: <device>/<photo_id>.
# Retention is a vision setting (SIGHTLINE_PHOTO_RETENTION_DAYS) applied at start-up.
PHOTOS = ObjectStoreSpec(name="photos", description="Photos from the glasses, named <device>/<photo_id>", ttl_s=30 * DAY, max_bytes=4 << 30)


def photo_object_name(device_id: str, photo_id: str) -> str:
    return f"{subjects.check_device_id(device_id)}/{photo_id}"


def object_store_stream(bucket: str) -> str:
    return f"OBJ_{bucket}"


async def ensure_object_store(
    js: JetStreamContext, spec: ObjectStoreSpec, *, ttl_s: float | None = None, max_bytes: int | None = None, replicas: int = 1
):
    """Create the bucket, or apply a changed retention to an existing one."""
    ttl = spec.ttl_s if ttl_s is None else ttl_s
    size = spec.max_bytes if max_bytes is None else max_bytes
    try:
        info = await js.stream_info(object_store_stream(spec.name))
    except NotFoundError:
        config = api.ObjectStoreConfig(bucket=spec.name, description=spec.description, ttl=ttl, max_bytes=size, replicas=replicas)
        try:
            return await js.create_object_store(spec.name, config=config)
        except BadRequestError as err:
            if getattr(err, "err_code", None) != 10058:  # created by another replica meanwhile
                raise
        return await js.object_store(spec.name)
    if (info.config.max_age or 0) != (ttl or 0) or (info.config.max_bytes or -1) != size:
        info.config.max_age = ttl or 0
        info.config.max_bytes = size
        await js.update_stream(info.config)
    return await js.object_store(spec.name)


# --- application-level dedup (sightline_runtime.inbox) ---
def inbox_bucket(service: str, *, ttl_s: float) -> BucketSpec:
    """One inbox per service: event ids it has handled, kept ttl_s."""
    return BucketSpec(
        name=f"inbox_{service}",
        description=f"{service}: ids of events already handled (application-level dedup beyond the JetStream window)",
        history=1,
        ttl_s=ttl_s,
        max_value_size=512,
    )


# --- the edge: every pair of glasses runs its own nats-server (JetStream domain edge-<device>) ---
# Durable up-link: the agent writes inputs and photo notices into the edge's
# UPLINK_<device> work queue. The hub's GLASSES_UP sources that stream across
# the leaf connection through a durable consumer the edge creates itself
# (AckFlowControl, nats-server >= 2.14): its ack floor is what the hub has
# stored, so the edge knows its backlog while offline, frees what was
# delivered, and after link loss or an edge restart the hub resumes exactly
# where it stopped. The edge's leaf remote denies exporting these subjects,
# so sourcing is their only way to the hub (a live copy would duplicate).
EDGE_DOMAIN_PREFIX = "edge-"
UPLINK_CONSUMER = "hub-uplink"
# Durable up-link kinds; audio stays live (core NATS) and is never buffered.
UPLINK_KINDS = ("input", "photo")


def edge_domain(device_id: str) -> str:
    """The edge's JetStream domain. A domain may not contain '.', '*' or '>';
    a valid device id never does."""
    return EDGE_DOMAIN_PREFIX + subjects.check_device_id(device_id)


def edge_api_prefix(device_id: str) -> str:
    return f"$JS.{edge_domain(device_id)}.API"


def edge_uplink_stream(device_id: str, *, max_bytes: int = 256 << 20) -> StreamSpec:
    return StreamSpec(
        name=f"UPLINK_{subjects.check_device_id(device_id)}",
        subjects=tuple(subjects.up(device_id, kind) for kind in UPLINK_KINDS),
        description="Edge outbox: inputs and photo notices waiting for the hub to source them",
        # Nothing unsent ever expires, and a full outbox refuses new events
        # (the wearer sees an error) instead of dropping queued ones.
        max_age_s=0,
        max_bytes=max_bytes,
        discard=api.DiscardPolicy.NEW,
        retention=api.RetentionPolicy.WORK_QUEUE,
        # A photo notice re-sent after an edge crash is dropped here even days later.
        duplicate_window_s=DAY,
    )


def uplink_deliver_subject(device_id: str) -> str:
    """Where the edge consumer pushes the sourced messages across the leaf:
    device-scoped, so leaf permissions can allow exactly this device's."""
    return subjects.up(device_id, "sync")


def edge_uplink_consumer(device_id: str, *, heartbeat_s: float = 5.0, max_ack_pending: int = 1000) -> api.ConsumerConfig:
    """The durable consumer the hub sources the edge up-link through. The
    heartbeat also moves the ack floor when idle: each idle edge costs the hub
    one small message per heartbeat."""
    return api.ConsumerConfig(
        durable_name=UPLINK_CONSUMER,
        description="The hub's GLASSES_UP sources the up-link through this consumer",
        deliver_subject=uplink_deliver_subject(device_id),
        deliver_policy=api.DeliverPolicy.ALL,
        ack_policy=api.AckPolicy.FLOW_CONTROL,
        flow_control=True,
        idle_heartbeat=heartbeat_s,
        max_deliver=-1,
        max_ack_pending=max_ack_pending,
        filter_subjects=list(edge_uplink_stream(device_id).subjects),
    )


def hub_uplink_source(device_id: str) -> api.StreamSource:
    return api.StreamSource(
        name=edge_uplink_stream(device_id).name,
        external=api.ExternalStream(api=edge_api_prefix(device_id)),
        consumer=api.StreamConsumerSource(name=UPLINK_CONSUMER, deliver_subject=uplink_deliver_subject(device_id)),
    )


def _same_source(a: api.StreamSource, b: api.StreamSource) -> bool:
    return a.name == b.name and (a.external.api if a.external else None) == (b.external.api if b.external else None)


async def ensure_uplink_source(js: JetStreamContext, device_id: str, *, stream: StreamSpec = GLASSES_UP, attempts: int = 5) -> bool:
    """Make the hub's `stream` source this device's edge up-link (idempotent).

    Run when a device is provisioned or starts, with hub credentials (a
    device never touches the hub's JetStream API). True when it changed the
    config. Stream updates are not compare-and-set: concurrent provisioning
    could drop another device's source, so the result is re-read and retried.
    """
    wanted = hub_uplink_source(device_id)
    changed = False
    for _ in range(attempts):
        info = await js.stream_info(stream.name)
        sources = list(info.config.sources or [])
        if any(_same_source(source, wanted) for source in sources):
            return changed
        info.config.sources = [*sources, wanted]
        await js.update_stream(info.config)
        changed = True
    raise RuntimeError(f"could not add the up-link source of device {device_id!r} to {stream.name} after {attempts} attempts")


async def remove_uplink_source(js: JetStreamContext, device_id: str, *, stream: StreamSpec = GLASSES_UP) -> bool:
    """Stop sourcing a device's up-link (revocation). True when one was removed."""
    unwanted = hub_uplink_source(device_id)
    info = await js.stream_info(stream.name)
    sources = list(info.config.sources or [])
    kept = [source for source in sources if not _same_source(source, unwanted)]
    if len(kept) == len(sources):
        return False
    info.config.sources = kept
    await js.update_stream(info.config)
    return True

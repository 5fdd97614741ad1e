"""The one registry of JetStream streams, durable consumers and buckets.

Services declare which of these they use; the runtime creates or updates
them at start-up (idempotent), so a fresh cluster needs no separate job.
Real-time audio and partial results use core NATS and appear nowhere here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nats.js import api
from nats.js.client import JetStreamContext
from nats.js.errors import BadRequestError, NotFoundError

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
            discard=api.DiscardPolicy.OLD,
        )


@dataclass(frozen=True)
class ConsumerSpec:
    """A durable consumer. Its name starts with the owning service's name."""

    stream: StreamSpec
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
ASR = StreamSpec(
    name="ASR",
    subjects=("asr.final.*",),
    description="Final transcripts (partials are core NATS only)",
    max_age_s=DAY,
)
TRANSLATION = StreamSpec(
    name="TRANSLATION",
    subjects=("translation.final.*",),
    description="Final translations of speech and photos",
    max_age_s=DAY,
)
VISION = StreamSpec(
    name="VISION",
    subjects=("photo.stored.*", "vision.result.*"),
    description="Stored photos and what the vision service saw in them",
)
COMMERCE = StreamSpec(
    name="COMMERCE",
    subjects=("commerce.offer.*", "commerce.order.*"),
    description="Offers and order state changes",
    max_age_s=30 * DAY,
)
PAYMENTS = StreamSpec(
    name="PAYMENTS",
    subjects=("payments.intent.*", "payments.result.*"),
    description="Payment intents and their outcomes",
    max_age_s=90 * DAY,
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

ALL_STREAMS: tuple[StreamSpec, ...] = (
    GLASSES_UP,
    ASR,
    TRANSLATION,
    VISION,
    COMMERCE,
    PAYMENTS,
    AUDIT,
    ERRORS,
    DEAD_LETTERS,
)

# --- durable consumers (name = <service>-<purpose>) ---
OVERLAY_INPUT = ConsumerSpec(
    stream=GLASSES_UP,
    durable="overlay-input",
    filter_subject="glasses.*.up.input",
    description="overlay: text and other inputs to lay out for the HUD",
)

# Captions are only worth showing now: a new overlay durable starts at new
# events instead of replaying a day of finals onto the glasses.
OVERLAY_ASR_FINALS = ConsumerSpec(
    stream=ASR,
    durable="overlay-asr-finals",
    filter_subject="asr.final.*",
    description="overlay: final transcripts for the caption region",
    deliver_policy=api.DeliverPolicy.NEW,
)
OVERLAY_TRANSLATION_FINALS = ConsumerSpec(
    stream=TRANSLATION,
    durable="overlay-translation-finals",
    filter_subject="translation.final.*",
    description="overlay: final translations for the caption region",
    deliver_policy=api.DeliverPolicy.NEW,
)

# translation: final transcripts to translate. NEW: a first deployment does
# not translate a day of old speech; once created, the durable resumes where
# it stopped, so finals spoken during a restart are still translated.
TRANSLATION_FINALS = ConsumerSpec(
    stream=ASR,
    durable="translation-finals",
    filter_subject="asr.final.*",
    description="translation: final transcripts to translate",
    deliver_policy=api.DeliverPolicy.NEW,
)

# --- key-value buckets ---
DEVICES = BucketSpec(name="devices", description="Device registry: DeviceRecord by device id", history=5)
GLOSSARY = BucketSpec(name="glossary", description="Per-device translation glossary", history=1)


async def ensure_stream(js: JetStreamContext, spec: StreamSpec, *, replicas: int = 1) -> None:
    """Create the stream, or bring an existing one's config up to date."""
    config = spec.config(replicas=replicas)
    try:
        await js.stream_info(spec.name)
    except NotFoundError:
        try:
            await js.add_stream(config)
            return
        except BadRequestError as err:
            # Another replica created it between our two calls.
            if getattr(err, "err_code", None) != 10058:
                raise
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

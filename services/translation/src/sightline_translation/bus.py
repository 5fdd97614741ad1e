"""The translation service's bus surface: transcripts in, translations out,
and the TranslationService.Translate request subject."""

from __future__ import annotations

from nats.js.api import DeliverPolicy
from sightline.v1.asr_pb2 import Transcript
from sightline.v1.translation_pb2 import TranslateRequest, TranslateResponse, Translation
from sightline.v1.vision_pb2 import VisionResult
from sightline_runtime import subjects
from sightline_runtime.consumer import HandlerSpec
from sightline_runtime.streams import DAY, GLOSSARY, ConsumerSpec, StreamSpec
from sightline_runtime.surface import BusSurface, OwnedStream, Publish, Serve, Subscribe, UseBucket

from sightline_translation.rpc import RPC_SUBJECT

SERVICE = "translation"

TRANSLATION = StreamSpec(
    name="TRANSLATION",
    subjects=(subjects.domain_all("translation", "final"), subjects.domain_all("translation", "photo")),
    description="Final translations of speech and photos",
    max_age_s=DAY,
)

SURFACE = BusSurface(
    service=SERVICE,
    description="translates speech (partials and finals), the text in photos and text on request, with each device's glossary",
    subscribes=(
        # Partials: core NATS in the service's queue group; cheap, latest wins.
        Subscribe(HandlerSpec("asr_partial", Transcript, subject=subjects.domain_all("asr", "partial")), "on_partial"),
        # NEW: a first deployment does not translate a day of old speech; once
        # created, the durable resumes where it stopped, so finals spoken during
        # a restart are still translated.
        Subscribe(
            HandlerSpec(
                "asr_final",
                Transcript,
                consumer=ConsumerSpec(
                    "translation-finals",
                    subjects.domain_all("asr", "final"),
                    "translation: final transcripts to translate",
                    deliver_policy=DeliverPolicy.NEW,
                ),
            ),
            "on_final",
        ),
        # What vision read in a photo (VISION is vision's stream: attached once it exists).
        Subscribe(
            HandlerSpec(
                "vision_result",
                VisionResult,
                consumer=ConsumerSpec(
                    "translation-photos",
                    subjects.domain_all("vision", "result"),
                    "translation: text read in photos, to translate for the wearer's labels",
                    deliver_policy=DeliverPolicy.NEW,
                ),
            ),
            "on_vision_result",
        ),
    ),
    publishes=(
        Publish(subjects.domain_all("translation", "partial"), Translation, description="partial translations, latest wins"),
        Publish(subjects.domain_all("translation", "final"), Translation, TRANSLATION, description="final translations"),
        Publish(subjects.domain_all("translation", "photo"), Translation, TRANSLATION, description="a photo's text regions, translated"),
    ),
    streams=(OwnedStream(TRANSLATION, retention_s=lambda settings: settings.transcript_retention_hours * 3600.0),),
    # Read only: glossaries are written with `sightline glossary`.
    buckets=(UseBucket(GLOSSARY),),
    serves=(Serve(RPC_SUBJECT, TranslateRequest, TranslateResponse, "translate_request"),),
)

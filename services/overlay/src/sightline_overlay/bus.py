"""The overlay's bus surface: everything it takes from and gives to the bus."""

from __future__ import annotations

from nats.js.api import DeliverPolicy
from sightline.v1.asr_pb2 import Transcript
from sightline.v1.assistant_pb2 import AssistantReply
from sightline.v1.display_pb2 import DisplayUpdate
from sightline.v1.input_pb2 import DeviceInput
from sightline.v1.translation_pb2 import Translation
from sightline.v1.vision_pb2 import VisionResult
from sightline_runtime import subjects
from sightline_runtime.admission import INPUTS
from sightline_runtime.consumer import HandlerSpec
from sightline_runtime.streams import ConsumerSpec
from sightline_runtime.surface import BusSurface, Publish, Subscribe

SERVICE = "overlay"

# Captions are only worth showing now: a new overlay durable starts at new
# events instead of replaying a day of finals onto the glasses.
SURFACE = BusSurface(
    service=SERVICE,
    description="lays out text, captions, translations, photo labels and the assistant's cards for each device's HUD",
    subscribes=(
        Subscribe(
            HandlerSpec(
                "device_input",
                DeviceInput,
                consumer=ConsumerSpec("overlay-input", subjects.UP_INPUT_ALL, "overlay: text and other inputs to lay out for the HUD"),
                dedup=True,
                admission=INPUTS,
            ),
            "on_device_input",
        ),
        # Partials on core NATS (latest wins, never replayed), finals from JetStream.
        Subscribe(HandlerSpec("asr_partial", Transcript, subject=subjects.domain_all("asr", "partial")), "on_transcript"),
        Subscribe(
            HandlerSpec(
                "asr_final",
                Transcript,
                consumer=ConsumerSpec(
                    "overlay-asr-finals",
                    subjects.domain_all("asr", "final"),
                    "overlay: final transcripts for the caption region",
                    deliver_policy=DeliverPolicy.NEW,
                ),
            ),
            "on_transcript",
        ),
        Subscribe(HandlerSpec("translation_partial", Translation, subject=subjects.domain_all("translation", "partial")), "on_translation"),
        Subscribe(
            HandlerSpec(
                "translation_final",
                Translation,
                consumer=ConsumerSpec(
                    "overlay-translation-finals",
                    subjects.domain_all("translation", "final"),
                    "overlay: final translations for the caption region",
                    deliver_policy=DeliverPolicy.NEW,
                ),
            ),
            "on_translation",
        ),
        # A photo's labels: what vision read (VISION, vision's stream) and its translation
        # (TRANSLATION, the translation service's). Each durable is attached once its
        # owner created the stream. NEW: labels are only worth drawing now.
        Subscribe(
            HandlerSpec(
                "vision_result",
                VisionResult,
                consumer=ConsumerSpec(
                    "overlay-vision-results",
                    subjects.domain_all("vision", "result"),
                    "overlay: what vision saw in a photo, drawn as labels over it",
                    deliver_policy=DeliverPolicy.NEW,
                ),
            ),
            "on_vision_result",
        ),
        Subscribe(
            HandlerSpec(
                "photo_translation",
                Translation,
                consumer=ConsumerSpec(
                    "overlay-photo-translations",
                    subjects.domain_all("translation", "photo"),
                    "overlay: translations of a photo's text regions for its labels",
                    deliver_policy=DeliverPolicy.NEW,
                ),
            ),
            "on_photo_translation",
        ),
        # The assistant's replies (its stream ASSISTANT) become the card. NEW: a card is only worth showing now.
        Subscribe(
            HandlerSpec(
                "assistant_reply",
                AssistantReply,
                consumer=ConsumerSpec(
                    "overlay-assistant-replies",
                    subjects.domain_all("assistant", "reply"),
                    "overlay: the assistant's replies, drawn as the HUD's card",
                    deliver_policy=DeliverPolicy.NEW,
                ),
            ),
            "on_assistant_reply",
        ),
    ),
    publishes=(Publish(subjects.DOWN_DISPLAY_ALL, DisplayUpdate, description="display updates, latest wins per HUD region"),),
    # The caption region says so when no asr takes a device's audio, or translation is gone.
    watches=("asr", "translation"),
)

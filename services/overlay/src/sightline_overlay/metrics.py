"""The overlay's own metrics (the runtime's per-handler ones come with every service)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram


@dataclass(frozen=True)
class LabelMetrics:
    # Per photo, once, when its result is first laid out: labels drawn and left out for lack of room.
    labels: Counter
    # Text regions (of a result) or translated regions (of a Translation) that give no label, by reason.
    regions_skipped: Counter
    # What became of each VisionResult: shown, older (a newer photo is current), stale, duplicate.
    results: Counter
    # What became of each photo Translation (applied, early, not_current), photos whose translation was late,
    # early ones dropped, and results or translations looked up in their stream (recalled).
    translations: Counter

    @classmethod
    def register(cls, registry: CollectorRegistry) -> LabelMetrics:
        return cls(
            labels=Counter(
                "sightline_overlay_labels_total",
                "Labels of photos laid out on the HUD: drawn, or omitted for lack of room",
                ["outcome"],
                registry=registry,
            ),
            regions_skipped=Counter(
                "sightline_overlay_label_regions_skipped_total",
                "Text regions that give no label: empty_text, bad_box (no area on the photo), bad_index (a translation's)",
                ["reason"],
                registry=registry,
            ),
            results=Counter(
                "sightline_overlay_photo_results_total",
                "Vision results by what overlay did with them: shown, older, stale, duplicate",
                ["outcome"],
                registry=registry,
            ),
            translations=Counter(
                "sightline_overlay_photo_translations_total",
                "Photo translations: applied, early (kept for their result), not_current, recalled (it or its result read from"
                " its stream); late (deadline passed), dropped (kept too long)",
                ["outcome"],
                registry=registry,
            ),
        )


@dataclass(frozen=True)
class CardMetrics:
    # Each AssistantReply by its kind and what became of it: shown, late (shown with its time), stale, rejected.
    cards: Counter
    # From the end of the wearer's speech (the reply's speech_ended_at) to the card sent to the glasses.
    speech_to_card: Histogram

    @classmethod
    def register(cls, registry: CollectorRegistry) -> CardMetrics:
        return cls(
            cards=Counter(
                "sightline_overlay_cards_total",
                "Assistant replies by reply kind and outcome: shown, late (shown with its time), stale (too old), rejected",
                ["kind", "outcome"],
                registry=registry,
            ),
            speech_to_card=Histogram(
                "sightline_overlay_speech_to_card_seconds",
                "End of the wearer's speech to the assistant's card sent to the glasses",
                ["kind"],
                buckets=(0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0),
                registry=registry,
            ),
        )

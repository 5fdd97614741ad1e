"""The overlay's own metrics (the runtime's per-handler ones come with every service)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter


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

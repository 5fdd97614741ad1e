from __future__ import annotations

from pydantic import Field
from sightline_runtime.partitions import AUDIO_PARTITIONS
from sightline_runtime.settings import ServiceSettings


class OverlaySettings(ServiceSettings):
    # How long a text panel stays on the HUD unless replaced.
    panel_ttl_ms: int = Field(default=15_000, ge=0)
    # Longer typed text is cut (and marked truncated) rather than refused.
    max_text_chars: int = Field(default=2_000, gt=0)
    # Captions fade this long after the last change (0 = stay until replaced).
    caption_ttl_ms: int = Field(default=10_000, ge=0)
    # A transcript or translation older than this is history, not a caption.
    caption_max_age_s: float = Field(default=30.0, gt=0)
    # Caption state is kept for this many devices (least recently active dropped).
    max_caption_devices: int = Field(default=10_000, gt=0)

    # --- never silent: the caption region says when captions or translations cannot come ---
    # The services whose presence (sightline_runtime.presence) captions depend on:
    # speech recognition (subscribed to the device's audio) and translation
    # (subscribed to the subject the final transcript came on).
    caption_speech_service: str = "asr"
    caption_translation_service: str = "translation"
    # Audio partitions of the hub's subject mapping (sightline_runtime.partitions);
    # 0 = the hub does not partition audio (devices publish glasses.<d>.up.audio as is).
    caption_audio_partitions: int = Field(default=AUDIO_PARTITIONS, ge=0)
    # A final whose translation has not come this long after it says "(translation late)".
    caption_translation_deadline_s: float = Field(default=1.5, gt=0)
    # Devices active within this window are told when captions become unavailable
    # (every device told is told again when they are back).
    caption_recent_window_s: float = Field(default=900.0, gt=0)
    # How often presence and translation deadlines are checked (bounds how late a notice is).
    caption_check_interval_s: float = Field(default=0.2, gt=0, le=1.0)

    # --- labels over the current photo (domain/labels.py, domain/photo_labels.py) ---
    # How long a photo's labels stay on the HUD unless a newer photo replaces them.
    labels_ttl_ms: int = Field(default=60_000, ge=0)
    # Labels still waiting for their translation this long after the photo's result say "late".
    labels_translation_deadline_s: float = Field(default=3.0, gt=0)
    # A photo taken longer ago than this (a backlog after an outage) is not drawn on the HUD.
    labels_max_age_s: float = Field(default=300.0, gt=0)
    # Text regions of one photo considered for labels (the biggest, most confident); the rest count as omitted.
    labels_max_regions: int = Field(default=64, gt=0)
    # Labels drawn at most, lines per label, cells per line, characters of text kept.
    labels_max_labels: int = Field(default=12, gt=0)
    labels_max_lines: int = Field(default=2, gt=0)
    labels_max_columns: int = Field(default=24, ge=2)
    labels_max_text_chars: int = Field(default=200, gt=0)
    # Least room between two labels, in HUD pixels.
    labels_gap_px: float = Field(default=2.0, ge=0)
    # Label text against the HUD profile's cell width and line height (1 = caption-sized).
    labels_text_scale: float = Field(default=0.75, gt=0.2, le=2.0)
    # Whole-photo tags shown (best first, at least this score) and decoded codes.
    labels_max_tags: int = Field(default=3, ge=0)
    labels_min_tag_score: float = Field(default=0.05, ge=0)
    labels_max_codes: int = Field(default=4, ge=0)
    # A photo's translation may come before its VisionResult: this many per device
    # are kept this long, waiting for it.
    labels_early_translations: int = Field(default=4, ge=0)
    labels_early_translation_ttl_s: float = Field(default=30.0, gt=0)
    # Label state is kept for this many devices (least recently shown dropped).
    max_label_devices: int = Field(default=10_000, gt=0)

    # --- the assistant's cards (domain/cards.py) ---
    # How long a card stays when the reply names no ttl, by reply kind ("answer", "suggestion", ...);
    # kinds not listed get card_ttl_ms.
    card_ttl_ms: int = Field(default=10_000, gt=0)
    card_ttl_ms_by_kind: dict[str, int] = Field(
        default_factory=lambda: {
            "acknowledged": 4_000,
            "answer": 15_000,
            "suggestion": 10_000,
            "reminder": 30_000,
            "briefing": 20_000,
            "notification": 15_000,
            "schedule": 20_000,
            "meeting_notes": 30_000,
            "error": 8_000,
        }
    )
    # A reply's own ttl is held to this (a card must not pin the HUD).
    card_max_ttl_ms: int = Field(default=300_000, gt=0)
    # A reply older than this is history, not a card; reminders and notifications show late, with their time.
    card_max_age_s: float = Field(default=30.0, gt=0)
    # Rows of the card for the title, body and items (items counting their "+k more" row).
    card_title_rows: int = Field(default=2, ge=1, le=2)
    card_body_rows: int = Field(default=4, ge=1)
    card_item_rows: int = Field(default=6, ge=1)
    # Actions shown at most, and cells of a button's label.
    card_max_actions: int = Field(default=3, ge=0, le=4)
    card_action_label_cells: int = Field(default=14, ge=2)
    # Characters of a title, body or item kept before wrapping (longer is cut, never refused).
    card_max_text_chars: int = Field(default=2_000, gt=0)

    def card_ttl_for(self, kind: str, requested_ms: int) -> int:
        """The reply's own ttl (bounded), else its kind's default."""
        if requested_ms:
            return min(requested_ms, self.card_max_ttl_ms)
        return self.card_ttl_ms_by_kind.get(kind, self.card_ttl_ms)

    @property
    def caption_presence_services(self) -> tuple[str, ...]:
        return (self.caption_speech_service, self.caption_translation_service)

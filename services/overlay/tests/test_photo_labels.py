"""A device's current photo and its labels: pending until the translation
comes, translated, failed or unsupported, late; the newest photo wins; a
translation that comes first waits for its result; bad regions are skipped."""

from __future__ import annotations

import math

import pytest
from sightline.v1.common_pb2 import Box, Rect
from sightline.v1.translation_pb2 import TextOrigin, TranslatedRegion, Translation, TranslationStatus
from sightline.v1.vision_pb2 import DecodedCode, ImageTag, TextRegion, VisionResult
from sightline_overlay.domain.labels import LabelStyle
from sightline_overlay.domain.photo_labels import (
    FAILED,
    LATE,
    PENDING,
    TRANSLATED,
    UNSUPPORTED,
    InvalidPhoto,
    LabelBoard,
    LabelLimits,
    PhotoLabels,
    anchored_labels,
    photo_labels,
)
from sightline_runtime.devices import DEFAULT_HUD

REGION = Rect(x=0, y=32, width=640, height=288)
DEFAULT_LIMITS = LabelLimits()
OK = TranslationStatus.TRANSLATION_STATUS_OK


def result(photo_id="p1", regions=None, **fields) -> VisionResult:
    regions = (
        regions
        if regions is not None
        else [
            ("出口", (0.10, 0.20, 0.20, 0.10), "zh"),
            ("禁止吸烟", (0.55, 0.60, 0.30, 0.10), "zh"),
            ("EXIT", (0.60, 0.10, 0.15, 0.08), "en"),
        ]
    )
    event = VisionResult(photo_id=photo_id, image_width=1280, image_height=960, **fields)
    for text, (x, y, w, h), language in regions:
        event.text_regions.append(TextRegion(text=text, box=Box(x=x, y=y, width=w, height=h), confidence=0.9, language=language))
    return event


def labels_of(event: VisionResult, *, target="en", result_id="r1", taken=1, limits=DEFAULT_LIMITS) -> tuple[PhotoLabels, dict]:
    return photo_labels(event, result_id, target_language=target, hud=DEFAULT_HUD, taken=taken, limits=limits)


def translation(photo_id="p1", texts=None, *, status=OK, source_event_id="r1") -> Translation:
    texts = texts if texts is not None else {0: ("出口", "Exit"), 1: ("禁止吸烟", "No smoking"), 2: ("EXIT", "EXIT")}
    event = Translation(
        photo_id=photo_id,
        source_event_id=source_event_id,
        origin=TextOrigin.TEXT_ORIGIN_SIGN,
        target_language="en",
        status=status,
        is_final=True,
    )
    for index, (source, text) in texts.items():
        event.regions.append(TranslatedRegion(region_index=index, source_text=source, text=text))
    return event


def shown(photo: PhotoLabels) -> list[tuple[str, str, str]]:
    labels, _ = anchored_labels(photo, REGION, LabelStyle())
    return [(" ".join(label.text.lines), label.source_text, label.translation_status) for label in labels.labels]


def test_labels_show_the_text_as_read_pending_unless_already_in_the_wearers_language():
    photo, skipped = labels_of(result())
    assert skipped == {"empty_text": 0, "bad_box": 0}
    assert photo.waiting
    assert shown(photo) == [("出口", "", PENDING), ("禁止吸烟", "", PENDING), ("EXIT", "", TRANSLATED)]


def test_no_wearers_language_means_nothing_to_wait_for():
    photo, _ = labels_of(result(), target="")
    assert not photo.waiting
    assert [status for *_, status in shown(photo)] == [TRANSLATED] * 3


def test_a_translation_replaces_the_texts_and_keeps_the_source():
    photo, _ = labels_of(result())
    applied = photo.apply(translation())
    assert applied.changed
    assert applied.bad_index == 0
    assert not photo.waiting
    assert shown(photo) == [("Exit", "出口", TRANSLATED), ("No smoking", "禁止吸烟", TRANSLATED), ("EXIT", "", TRANSLATED)]
    labels, _ = anchored_labels(photo, REGION, LabelStyle())
    assert labels.labels[0].text.language == "en"
    assert photo.apply(translation()).changed is False, "the same translation again changes nothing"


@pytest.mark.parametrize(
    ("status", "said"),
    [(TranslationStatus.TRANSLATION_STATUS_FAILED, FAILED), (TranslationStatus.TRANSLATION_STATUS_UNSUPPORTED, UNSUPPORTED)],
)
def test_a_failed_or_unsupported_translation_keeps_the_text_as_read_and_says_so(status, said):
    photo, _ = labels_of(result())
    # The region already in English came back as it was; the Chinese ones got none.
    photo.apply(translation(texts={0: ("出口", ""), 1: ("禁止吸烟", ""), 2: ("EXIT", "EXIT")}, status=status))
    assert shown(photo) == [("出口", "", said), ("禁止吸烟", "", said), ("EXIT", "", TRANSLATED)]
    assert not photo.waiting


def test_late_then_the_translation_after_all():
    photo, _ = labels_of(result())
    assert photo.mark_late()
    assert [status for *_, status in shown(photo)] == [LATE, LATE, TRANSLATED]
    assert photo.mark_late() is False, "said once"
    photo.apply(translation())
    assert [status for *_, status in shown(photo)] == [TRANSLATED] * 3


def test_region_indexes_the_result_does_not_have_are_counted_not_applied():
    photo, _ = labels_of(result())
    applied = photo.apply(translation(texts={0: ("出口", "Exit"), 7: ("x", "y"), 1: ("别的", "Other text")}))
    assert applied.bad_index == 2, "index 7 is out of range; index 1 names another text"
    assert shown(photo)[:2] == [("Exit", "出口", TRANSLATED), ("禁止吸烟", "", FAILED)], "no translation will come for it"


def test_empty_text_and_boxes_that_are_not_on_the_photo_are_skipped():
    event = result(
        regions=[
            ("   ", (0.1, 0.1, 0.1, 0.1), "zh"),
            ("出口", (math.nan, 0.1, 0.1, 0.1), "zh"),
            ("出口", (0.1, 0.1, -0.2, 0.1), "zh"),
            ("出口", (1.5, 0.1, 0.1, 0.1), "zh"),
            ("入口", (0.9, 0.9, 0.4, 0.4), "zh"),  # partly off: clipped to the photo
        ]
    )
    photo, skipped = labels_of(event)
    assert skipped == {"empty_text": 1, "bad_box": 3}
    assert list(photo.labels) == [4]
    label = photo.labels[4]
    assert (label.anchor.x, label.anchor.y, label.anchor.w, label.anchor.h) == pytest.approx((0.9, 0.9, 0.1, 0.1))


def test_text_regions_without_the_photos_size_are_refused():
    event = result()
    event.image_width = 0
    with pytest.raises(InvalidPhoto, match="size"):
        labels_of(event)
    no_text = result(regions=[])
    no_text.image_width = 0
    photo, _ = labels_of(no_text)
    assert photo.labels == {}


def test_thousands_of_regions_are_capped_and_the_rest_counted_as_omitted():
    many = [(f"w{k}", ((k % 50) / 50, (k // 50) / 40, 0.015, 0.02), "zh") for k in range(2000)]
    photo, _ = labels_of(result(regions=many), limits=LabelLimits(max_regions=64))
    assert len(photo.labels) == 64
    assert photo.capped == 1936
    labels, arranged = anchored_labels(photo, REGION, LabelStyle(max_labels=12))
    assert len(labels.labels) == len(arranged.placed) <= 12
    assert labels.omitted == 2000 - len(labels.labels)


def test_top_tags_best_first_and_codes_as_format_and_text():
    event = result(
        tags=[ImageTag(label="street sign", score=0.4), ImageTag(label="shop", score=0.7), ImageTag(label="noise", score=0.01)],
        codes=[DecodedCode(format="EAN13", text="6901234567892"), DecodedCode(format="QRCode", text="https://example.com/" + "x" * 100)],
    )
    photo, _ = labels_of(event)
    labels, _ = anchored_labels(photo, REGION, LabelStyle())
    assert list(labels.tags) == ["shop", "street sign"]
    assert labels.codes[0] == "EAN13 6901234567892"
    assert labels.codes[1].startswith("QRCode https://example.com/")
    assert labels.codes[1].endswith("…")
    assert len(labels.codes[1]) == LabelLimits().max_code_chars


def test_each_label_lies_over_its_region():
    photo, _ = labels_of(result())
    photo.apply(translation())
    labels, _ = anchored_labels(photo, REGION, LabelStyle())
    for label in labels.labels:
        a, p = label.anchor, label.placement
        assert p.x <= a.x + a.width + 1e-6
        assert a.x <= p.x + p.width + 1e-6
        assert p.y <= a.y + a.height + 1e-6
        assert a.y <= p.y + p.height + 1e-6


# --- the board: one current photo per device ---
def test_the_newest_photo_wins_and_an_older_result_arriving_late_is_not_shown():
    board = LabelBoard()
    newer, _ = labels_of(result("p2"), result_id="r2", taken=200)
    older, _ = labels_of(result("p1"), result_id="r1", taken=100)
    assert board.show("a", newer, now=0).outcome == "shown"
    assert board.show("a", older, now=0).outcome == "older"
    assert board.current["a"].photo_id == "p2"
    assert board.show("a", newer, now=0).outcome == "duplicate"
    assert board.translate("a", translation("p1", source_event_id="r1"), now=0) == ("not_current", None), "the older photo's translation"


def test_once_the_labels_are_off_the_hud_any_photo_may_replace_them():
    # A glasses clock that jumped back must not keep every later photo off the HUD for ever.
    board = LabelBoard(shown_ttl_s=60)
    newer, _ = labels_of(result("p2"), result_id="r2", taken=200)
    older, _ = labels_of(result("p1"), result_id="r1", taken=100)
    board.show("a", newer, now=0)
    assert board.show("a", older, now=59).outcome == "older"
    assert board.show("a", older, now=61).outcome == "shown"


def test_a_new_photo_replaces_the_last_ones_and_its_translation_is_ignored_after():
    board = LabelBoard()
    first, _ = labels_of(result("p1"), result_id="r1", taken=100)
    second, _ = labels_of(result("p2"), result_id="r2", taken=200)
    board.show("a", first, now=0)
    board.show("a", second, now=0)
    assert board.translate("a", translation("p1", source_event_id="r1"), now=1) == ("not_current", None)
    outcome, applied = board.translate("a", translation("p2", source_event_id="r2"), now=1)
    assert outcome == "applied"
    assert applied.changed


def test_a_translation_of_another_analysis_of_the_same_photo_is_not_applied():
    board = LabelBoard()
    photo, _ = labels_of(result("p1"), result_id="r2")
    board.show("a", photo, now=0)
    assert board.translate("a", translation("p1", source_event_id="r1"), now=0) == ("not_current", None)


def test_a_translation_that_comes_first_is_applied_when_its_result_comes():
    board = LabelBoard(early_ttl_s=30)
    assert board.translate("a", translation("p1"), now=0) == ("early", None)
    photo, _ = labels_of(result("p1"))
    shown_now = board.show("a", photo, now=5)
    assert shown_now.early is not None
    assert shown_now.early.changed
    assert not board.current["a"].waiting


def test_an_early_translation_is_kept_briefly_and_boundedly():
    board = LabelBoard(max_early=2, early_ttl_s=30)
    for n in range(4):
        board.translate("a", translation(f"p{n}"), now=0)
    assert board.take_dropped() == 2, "two kept per device"
    photo, _ = labels_of(result("p3"))
    assert board.show("a", photo, now=31).early is None, "kept 30 s only"
    assert board.take_dropped() == 2


def test_everything_is_keyed_by_device():
    board = LabelBoard()
    on_a, _ = labels_of(result("p1"))
    board.show("a", on_a, now=0)
    # A translation of a's photo arriving for device b never touches a's labels.
    assert board.translate("b", translation("p1"), now=0) == ("early", None)
    assert board.current["a"].waiting
    assert "b" not in board.current


def test_devices_beyond_the_bound_are_forgotten_least_recently_shown_first():
    board = LabelBoard(max_devices=2)
    for n, device in enumerate(["a", "b", "c"]):
        photo, _ = labels_of(result(f"p{n}"), result_id=f"r{n}")
        evicted = board.show(device, photo, now=0).evicted
    assert evicted == ["a"]
    assert list(board.current) == ["b", "c"]

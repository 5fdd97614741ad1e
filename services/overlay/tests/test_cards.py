"""The assistant's replies laid out as the HUD's card (domain/cards.py): pure."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sightline.v1.assistant_pb2 import AssistantReply, ReplyAction, ReplyKind
from sightline.v1.device_pb2 import HudProfile
from sightline.v1.display_pb2 import CardKind, HudRegion
from sightline_overlay.domain.cards import (
    HEAD_ROWS,
    SIDE_CELLS,
    CardLimits,
    InvalidReply,
    kind_name,
    reply_age_s,
    reply_card,
    shown_late,
    time_label,
)
from sightline_overlay.domain.hud import region_box
from sightline_overlay.domain.textwrap import cell_width, sanitize
from sightline_overlay.settings import OverlaySettings
from sightline_runtime.devices import DEFAULT_HUD
from sightline_runtime.events import new_meta

NOW = 1_796_000_000.0
COLUMNS = region_box(HudRegion.HUD_REGION_CARD, DEFAULT_HUD).columns - 2 * SIDE_CELLS  # 30 for 640x480


def reply(kind=ReplyKind.REPLY_KIND_ANSWER, title="", body="", items=(), actions=(), **fields) -> AssistantReply:
    event = AssistantReply(meta=new_meta("a", "assistant"), kind=kind, title=title, body=body, items=list(items), **fields)
    event.meta.created_at.FromNanoseconds(int(NOW * 1e9))
    event.actions.extend(ReplyAction(action_id=action_id, label=label) for action_id, label in actions)
    return event


def card_of(event: AssistantReply, hud: HudProfile = DEFAULT_HUD, **options):
    options.setdefault("ttl_ms", 10_000)
    return reply_card(event, hud, now_s=NOW, **options).update


def rows_used(card) -> int:
    return HEAD_ROWS + len(card.title.lines) + len(card.body.lines) + len(card.items) + (1 if card.actions else 0)


def widths(card) -> list[int]:
    lines = [*card.title.lines, *card.body.lines, *(line for item in card.items for line in item.lines)]
    return [cell_width(line) for line in lines]


def test_a_suggestion_keeps_its_title_body_and_yes_no_actions_in_the_card_region():
    update = card_of(
        reply(
            ReplyKind.REPLY_KIND_SUGGESTION,
            title="Did you mean: remind me to call Mum at 6 pm?",
            body="I heard “remind me to cool mum at six”.",
            actions=[("sug-1:yes", "Yes"), ("sug-1:no", "No")],
            reference_id="cmd-42",
            language="en",
        )
    )
    assert update.region == HudRegion.HUD_REGION_CARD
    assert (update.bounds.x, update.bounds.y, update.bounds.width, update.bounds.height) == (64, 48, 512, 256)
    card = update.card
    assert card.kind == CardKind.CARD_KIND_SUGGESTION
    assert list(card.title.lines) == ["Did you mean: remind me to", "call Mum at 6 pm?"]
    assert list(card.body.lines) == ["I heard “remind me to cool mum", "at six”."]
    assert [(a.action_id, a.label) for a in card.actions] == [("sug-1:yes", "Yes"), ("sug-1:no", "No")]
    assert card.reference_id == "cmd-42"
    assert card.title.language == card.body.language == "en"
    assert update.ttl_ms == 10_000
    assert card.expires_at.ToNanoseconds() == int(NOW * 1e9) + 10_000 * 1_000_000


@pytest.mark.parametrize(
    ("kind", "card_kind"),
    [
        (ReplyKind.REPLY_KIND_ACKNOWLEDGED, CardKind.CARD_KIND_INFO),
        (ReplyKind.REPLY_KIND_ANSWER, CardKind.CARD_KIND_ANSWER),
        (ReplyKind.REPLY_KIND_SUGGESTION, CardKind.CARD_KIND_SUGGESTION),
        (ReplyKind.REPLY_KIND_REMINDER, CardKind.CARD_KIND_REMINDER),
        (ReplyKind.REPLY_KIND_BRIEFING, CardKind.CARD_KIND_BRIEFING),
        (ReplyKind.REPLY_KIND_NOTIFICATION, CardKind.CARD_KIND_NOTIFICATION),
        (ReplyKind.REPLY_KIND_SCHEDULE, CardKind.CARD_KIND_INFO),
        (ReplyKind.REPLY_KIND_MEETING_NOTES, CardKind.CARD_KIND_INFO),
        (ReplyKind.REPLY_KIND_ERROR, CardKind.CARD_KIND_ERROR),
        (ReplyKind.REPLY_KIND_UNSPECIFIED, CardKind.CARD_KIND_INFO),
        (77, CardKind.CARD_KIND_INFO),  # a kind from a newer assistant
    ],
)
def test_every_reply_kind_has_a_card_kind(kind, card_kind):
    layout = reply_card(reply(kind, title="Done"), DEFAULT_HUD, ttl_ms=1000, now_s=NOW)
    assert layout.update.card.kind == card_kind
    assert (layout.notes != ()) is (kind in (0, 77)), "an unset or unknown kind is noted"
    assert kind_name(kind) == ("unknown" if kind == 77 else ReplyKind.Name(kind).removeprefix("REPLY_KIND_").lower())


def test_items_one_per_row_and_plus_k_more_when_they_do_not_fit():
    events = [f"{9 + n}:00 Meeting number {n} with a rather long description" for n in range(9)]
    update = card_of(reply(ReplyKind.REPLY_KIND_SCHEDULE, title="Today", items=events))
    card = update.card
    # 8 rows: the head, the title, then the items (no body, no actions): 6 rows, the last "+4 more".
    assert list(card.title.lines) == ["Today"]
    assert len(card.items) == 6
    assert [len(item.lines) for item in card.items] == [1] * 6
    assert card.items[0].lines[0].endswith("…")
    assert card.items[0].truncated
    assert list(card.items[-1].lines) == ["+4 more"]
    assert rows_used(card) <= region_box(HudRegion.HUD_REGION_CARD, DEFAULT_HUD).rows
    assert max(widths(card)) <= COLUMNS


def test_the_body_gives_way_to_the_first_items():
    body = " ".join(["word"] * 200)
    event = reply(ReplyKind.REPLY_KIND_MEETING_NOTES, title="Notes", body=body, items=["Send the deck", "Book a room", "Call Ana"])
    card = card_of(event).card
    # 8 rows - head = 7: title 1, body 4 (its cap), items 2 of 3: "+2 more" would hide one, so the body keeps 4 and items get 2.
    assert len(card.body.lines) == 4
    assert card.body.truncated
    assert card.body.lines[-1].endswith("…")
    assert [list(item.lines) for item in card.items] == [["Send the deck"], ["+2 more"]]


def test_cjk_is_double_width():
    title = "明天上午十点和张经理在三楼会议室讨论季度预算和招聘计划"
    card = card_of(reply(ReplyKind.REPLY_KIND_REMINDER, title=title, items=["准备季度预算报告和招聘计划的幻灯片"], language="zh")).card
    assert card.title.language == "zh"
    assert all(cell_width(line) <= COLUMNS for line in card.title.lines)
    assert len(card.title.lines[0]) == COLUMNS // 2, "15 ideographs in 30 cells"
    assert cell_width(card.items[0].lines[0]) <= COLUMNS
    assert card.items[0].lines[0].endswith("…")


def test_control_and_bidi_characters_are_removed():
    card = card_of(reply(title="Pay\x1b[31m now\u202e", body="a\x00b\tc", items=["\x07", "ok"])).card
    assert list(card.title.lines) == ["Pay[31m now"]
    assert list(card.body.lines) == ["ab c"]
    assert [list(item.lines) for item in card.items] == [["ok"]], "an item that is only control characters is no item"


def test_a_huge_body_is_cut_not_wrapped_whole():
    started = time.perf_counter()
    card = card_of(reply(title="Long", body="x" * 5_000_000)).card
    assert time.perf_counter() - started < 1.0
    assert card.body.truncated
    assert len(card.body.lines) == 4


@pytest.mark.parametrize("event", [reply(), reply(title="  \x00 ", body="\u200b", items=["", " "])])
def test_a_reply_with_nothing_to_show_is_invalid(event):
    with pytest.raises(InvalidReply, match="nothing to show"):
        reply_card(event, DEFAULT_HUD, ttl_ms=1000, now_s=NOW)


def test_actions_are_bounded_valid_and_unique():
    actions = [("", "No id"), ("yes", "Yes"), ("yes", "Again"), ("bad id", "Space"), ("x" * 200, "Long id"), ("c\x00", "Ctl")]
    actions += [("later", "Remind me again in fifteen minutes"), ("no", ""), ("four", "Four")]
    layout = reply_card(reply(ReplyKind.REPLY_KIND_REMINDER, title="Stand up", actions=actions), DEFAULT_HUD, ttl_ms=1000, now_s=NOW)
    kept = [(a.action_id, a.label) for a in layout.update.card.actions]
    assert kept == [("yes", "Yes"), ("later", "Remind me aga…"), ("no", "no")]
    assert all(cell_width(label) <= 14 for _, label in kept)
    assert layout.actions_dropped == len(actions) - 3


def test_a_late_reminder_shows_the_time_it_was_for_in_the_wearers_zone():
    event = reply(ReplyKind.REPLY_KIND_REMINDER, title="Call Mum")
    made = dt.datetime(2026, 12, 3, 6, 5, tzinfo=dt.UTC)
    event.meta.created_at.FromDatetime(made)
    now = made.timestamp() + 600
    assert reply_age_s(event, now) == pytest.approx(600)
    assert shown_late(event, 600, 30) is True
    assert time_label(event, now, "Asia/Shanghai") == "14:05"
    assert time_label(event, now + 86_400, "Asia/Shanghai") == "12-03 14:05", "another day: with its date"
    assert time_label(event, now, "Not/AZone") == "06:05", "an unknown zone shows UTC"
    card = reply_card(event, DEFAULT_HUD, ttl_ms=1000, now_s=now, late_label="14:05").update.card
    assert list(card.title.lines) == ["14:05 · Call Mum"]


@pytest.mark.parametrize(
    ("kind", "age", "expected"),
    [
        (ReplyKind.REPLY_KIND_ANSWER, 5, False),
        (ReplyKind.REPLY_KIND_ANSWER, 31, None),
        (ReplyKind.REPLY_KIND_SUGGESTION, 31, None),
        (ReplyKind.REPLY_KIND_NOTIFICATION, 3600, True),
        (ReplyKind.REPLY_KIND_REMINDER, 31, True),
    ],
)
def test_only_reminders_and_notifications_show_late(kind, age, expected):
    assert shown_late(reply(kind, title="t"), age, 30.0) is expected


def test_a_reply_without_a_time_is_not_old():
    event = reply(title="t")
    event.meta.ClearField("created_at")
    assert reply_age_s(event, NOW) == 0.0


def test_ttl_is_the_replys_bounded_or_its_kinds_default():
    overlay = OverlaySettings()
    assert overlay.card_ttl_for("suggestion", 0) == 10_000
    assert overlay.card_ttl_for("acknowledged", 0) == 4_000
    assert overlay.card_ttl_for("unknown", 0) == overlay.card_ttl_ms
    assert overlay.card_ttl_for("answer", 2_500) == 2_500
    assert overlay.card_ttl_for("answer", 4_000_000_000) == overlay.card_max_ttl_ms


def test_a_tiny_hud_still_gets_a_card_within_its_rows():
    hud = HudProfile(width_px=200, height_px=120, cell_width_px=10, line_height_px=20)
    box = region_box(HudRegion.HUD_REGION_CARD, hud)  # 160x64: 16 columns, 3 rows
    card = card_of(reply(title="A title that is long", body="and a body", items=["one", "two"], actions=[("ok", "OK")]), hud).card
    assert rows_used(card) <= box.rows
    assert list(card.title.lines) == ["A title that…"]
    assert not card.body.lines, "no room left after the title and the buttons"
    assert not card.items


TEXT = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8", categories=("L", "N", "P", "Zs", "Cc", "Cf", "So")),
        st.sampled_from("明天会议室讨论预算。、「」ｶﾞ한국어 \n\t"),
    ),
    max_size=300,
)


@settings(max_examples=150, deadline=None)
@given(
    title=TEXT,
    body=TEXT,
    items=st.lists(TEXT, max_size=12),
    actions=st.lists(st.tuples(st.text(max_size=20), TEXT), max_size=6),
    kind=st.integers(min_value=0, max_value=12),
    hud=st.sampled_from(
        [
            DEFAULT_HUD,
            HudProfile(width_px=200, height_px=120, cell_width_px=10, line_height_px=20),
            HudProfile(width_px=1280, height_px=720, cell_width_px=18, line_height_px=36),
            HudProfile(width_px=40, height_px=40, cell_width_px=16, line_height_px=32),
        ]
    ),
)
def test_a_card_never_overflows_the_hud(title, body, items, actions, kind, hud):
    event = reply(kind, title=title, body=body, items=items, actions=actions)
    try:
        layout = reply_card(event, hud, ttl_ms=1000, now_s=NOW, limits=CardLimits())
    except InvalidReply:
        # Only when nothing printable is left of any of them.
        assert not any(sanitize(text[:2000]).strip() for text in (title, body, *items))
        return
    card = layout.update.card
    box = region_box(HudRegion.HUD_REGION_CARD, hud)
    columns = max(2, box.columns - 2 * SIDE_CELLS)
    assert rows_used(card) <= max(box.rows, HEAD_ROWS + 1 + (1 if card.actions else 0))
    assert all(width <= columns for width in widths(card))
    assert len(card.actions) <= 3
    assert all(cell_width(a.label) <= 14 and a.action_id.isprintable() for a in card.actions)
    assert all(len(item.lines) == 1 for item in card.items)
    assert len(card.title.lines) <= 2
    assert card.title.lines or card.body.lines or card.items

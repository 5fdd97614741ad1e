"""The assistant's replies become the HUD's card: one card at a time, laid
out for the device's HudProfile (docs/cards.md).

A card is drawn in rows of the profile's line height: a head row (the
kind, when it expires), the title (1-2 rows), the body, the items (one row
each, "+k more" when they do not all fit) and, when there are actions, a
row of buttons. Every row is wrapped by display width (CJK counts double)
a cell inside each side of the region, so nothing runs past the card.
Pure: the handler gives the time and the device's time zone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sightline.v1.assistant_pb2 import AssistantReply, ReplyKind
from sightline.v1.device_pb2 import HudProfile
from sightline.v1.display_pb2 import Card, CardAction, CardKind, DisplayUpdate, HudRegion, TextBlock

from sightline_overlay.domain.hud import region_box
from sightline_overlay.domain.panel import text_block
from sightline_overlay.domain.textwrap import ELLIPSIS, cell_width, fit, sanitize, wrap

# ReplyKind -> CardKind. Acknowledgements, schedules and meeting notes are
# information (their title says which); an unknown or unset kind is too.
CARD_KINDS: dict[int, int] = {
    ReplyKind.REPLY_KIND_ACKNOWLEDGED: CardKind.CARD_KIND_INFO,
    ReplyKind.REPLY_KIND_ANSWER: CardKind.CARD_KIND_ANSWER,
    ReplyKind.REPLY_KIND_SUGGESTION: CardKind.CARD_KIND_SUGGESTION,
    ReplyKind.REPLY_KIND_REMINDER: CardKind.CARD_KIND_REMINDER,
    ReplyKind.REPLY_KIND_BRIEFING: CardKind.CARD_KIND_BRIEFING,
    ReplyKind.REPLY_KIND_NOTIFICATION: CardKind.CARD_KIND_NOTIFICATION,
    ReplyKind.REPLY_KIND_SCHEDULE: CardKind.CARD_KIND_INFO,
    ReplyKind.REPLY_KIND_MEETING_NOTES: CardKind.CARD_KIND_INFO,
    ReplyKind.REPLY_KIND_ERROR: CardKind.CARD_KIND_ERROR,
}
# What still matters when it comes late: shown with the time it was for.
LATE_KINDS = frozenset({ReplyKind.REPLY_KIND_REMINDER, ReplyKind.REPLY_KIND_NOTIFICATION})
# Rows a card spends besides its text: the head row (kind, expiry) with the padding around it.
HEAD_ROWS = 1
# Cells kept clear inside each side of the card (its border and padding).
SIDE_CELLS = 1
# Ids are echoed back in a Confirmation: kept short and printable.
MAX_ID_CHARS = 128


class InvalidReply(ValueError):
    """A reply that cannot become a card (the handler rejects the event with this message)."""


def kind_name(kind: int) -> str:
    """ "answer", "suggestion", ...; "unknown" for a kind this overlay does not know (metric label)."""
    return ReplyKind.Name(kind).removeprefix("REPLY_KIND_").lower() if kind in ReplyKind.values() else "unknown"


@dataclass(frozen=True)
class CardLimits:
    title_rows: int = 2
    body_rows: int = 4
    # Items shown at most, counting the "+k more" row.
    item_rows: int = 6
    # Rows always left to the items when there are some (the body gives way).
    min_item_rows: int = 2
    max_actions: int = 3
    # Cells of an action's label.
    action_label_cells: int = 14
    # Characters of title, body and each item kept before wrapping (a huge body is cut, never wrapped whole).
    max_text_chars: int = 2_000
    # Items looked at (the rest only count toward "+k more").
    max_items: int = 100


@dataclass(frozen=True)
class CardLayout:
    """What was made of one reply, for metrics and logs."""

    update: DisplayUpdate
    kind: str
    # Items and actions that found no room or were not valid.
    items_hidden: int = 0
    actions_dropped: int = 0
    notes: tuple[str, ...] = field(default=())


def reply_age_s(reply: AssistantReply, now_s: float) -> float:
    """Seconds since the assistant made the reply (0 when it carries no time)."""
    created = reply.meta.created_at
    if created.seconds <= 0:
        return 0.0
    return max(0.0, now_s - created.ToNanoseconds() / 1e9)


def shown_late(reply: AssistantReply, age_s: float, max_age_s: float) -> bool | None:
    """None: too old to show (history, not a card). True: shown late, with its time. False: fresh."""
    if age_s <= max_age_s:
        return False
    return True if reply.kind in LATE_KINDS else None


def time_label(reply: AssistantReply, now_s: float, time_zone: str) -> str:
    """When a late reply was made, in the wearer's time zone: "14:05", or "12-02 14:05" on another day."""
    zone = _zone(time_zone)
    made = dt.datetime.fromtimestamp(reply.meta.created_at.ToNanoseconds() / 1e9, zone)
    today = dt.datetime.fromtimestamp(now_s, zone).date()
    return made.strftime("%H:%M") if made.date() == today else made.strftime("%m-%d %H:%M")


def _zone(name: str) -> dt.tzinfo:
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass  # an unknown zone in a device record shows UTC rather than no card
    return dt.UTC


def reply_card(
    reply: AssistantReply,
    hud: HudProfile,
    *,
    ttl_ms: int,
    now_s: float,
    limits: CardLimits = CardLimits(),
    late_label: str = "",
) -> CardLayout:
    """The card region's update for `reply`; the caller sets meta and version.
    `late_label` (a time) goes before the title of a reply shown late.
    Raises InvalidReply when nothing is left to show."""
    box = region_box(HudRegion.HUD_REGION_CARD, hud)
    columns = max(2, box.columns - 2 * SIDE_CELLS)
    language = _clean_id(reply.language)[:35]
    title = _clean(reply.title, limits)
    body = _clean(reply.body, limits)
    items = [item for item in (_clean(raw, limits) for raw in reply.items[: limits.max_items]) if item]
    unseen_items = max(0, len(reply.items) - limits.max_items)
    if late_label:
        title = f"{late_label} · {title}" if title else late_label
    if not (title or body or items):
        raise InvalidReply("an assistant reply with no title, body or items (nothing to show)")

    actions, dropped = _actions(reply, limits)
    rows = max(1, box.rows - HEAD_ROWS - (1 if actions else 0))

    title_lines, title_cut = _lines(title, columns, min(limits.title_rows, rows))
    rows -= len(title_lines)
    # The body gives way to the first items; the items take what the body leaves.
    keep_for_items = min(len(items) + unseen_items, limits.min_item_rows, limits.item_rows)
    # A body always gets a row when there is one (on a small HUD the items go first).
    body_rows = min(limits.body_rows, rows, max(1, rows - keep_for_items))
    body_lines, body_cut = _lines(body, columns, body_rows)
    rows -= len(body_lines)
    item_blocks, hidden = _items(items, unseen_items, language, columns, min(rows, limits.item_rows))

    card = Card(card_id=_clean_id(reply.meta.event_id), kind=CARD_KINDS.get(reply.kind, CardKind.CARD_KIND_INFO))
    card.reference_id = _clean_id(reply.reference_id)
    if title_lines:
        card.title.CopyFrom(TextBlock(lines=title_lines, language=language, truncated=title_cut))
    if body_lines:
        card.body.CopyFrom(TextBlock(lines=body_lines, language=language, truncated=body_cut))
    card.items.extend(item_blocks)
    card.actions.extend(actions)
    if ttl_ms:
        card.expires_at.FromNanoseconds(int(now_s * 1e9) + ttl_ms * 1_000_000)

    update = DisplayUpdate(region=HudRegion.HUD_REGION_CARD, ttl_ms=ttl_ms)
    update.bounds.CopyFrom(box.rect)
    update.card.CopyFrom(card)
    notes = () if reply.kind in CARD_KINDS else (f"reply kind {kind_name(reply.kind)} ({reply.kind}): shown as info",)
    return CardLayout(update=update, kind=kind_name(reply.kind), items_hidden=hidden, actions_dropped=dropped, notes=notes)


def _lines(text: str, columns: int, rows: int) -> tuple[list[str], bool]:
    """Wrapped into at most `rows` lines (and whether it was cut); none when no rows or no text."""
    if not text or rows <= 0:
        return [], False
    return fit(wrap(text, columns), rows, columns)


def _items(items: list[str], unseen: int, language: str, columns: int, rows: int) -> tuple[list[TextBlock], int]:
    """One row per item; when they do not all fit the last row says how many are left."""
    total = len(items) + unseen
    if rows <= 0 or total == 0:
        return [], total
    shown = items if total <= rows else items[: rows - 1]
    blocks = [text_block(item, language, columns=columns, rows=1) for item in shown]
    hidden = total - len(shown)
    if hidden:
        more = f"+{hidden} more"
        blocks.append(TextBlock(lines=[more if cell_width(more) <= columns else _cut(f"+{hidden}", columns)], truncated=True))
    return blocks, hidden


def _actions(reply: AssistantReply, limits: CardLimits) -> tuple[list[CardAction], int]:
    """Valid actions (a printable id, once each), at most max_actions, labels cut to fit a button."""
    kept: list[CardAction] = []
    seen: set[str] = set()
    for action in reply.actions:
        action_id = action.action_id
        if not action_id or action_id != _clean_id(action_id) or action_id in seen or len(kept) == limits.max_actions:
            continue
        seen.add(action_id)
        label = " ".join(sanitize(action.label[: limits.max_text_chars]).split()) or action_id
        kept.append(CardAction(action_id=action_id, label=_cut(label, limits.action_label_cells)))
    return kept, len(reply.actions) - len(kept)


def _cut(text: str, cells: int) -> str:
    if cell_width(text) <= cells:
        return text
    while text and cell_width(text + ELLIPSIS) > cells:
        text = text[:-1]
    return text.rstrip() + ELLIPSIS


def _clean(text: str, limits: CardLimits) -> str:
    """Sanitised and bounded; blank (only spaces or control characters) becomes empty."""
    cut = sanitize(text[: limits.max_text_chars])
    return cut.strip() and cut


def _clean_id(value: str) -> str:
    """An id as sent back by the glasses: printable, no spaces, bounded; anything else is dropped."""
    value = value[:MAX_ID_CHARS]
    return value if value.isprintable() and " " not in value else ""

"""Where each label of a photo is drawn on the HUD, so that none hides another.

The photo is drawn "contain" inside the HUD's labels region (its aspect kept,
centred), so one HUD pixel is a known fraction of the photo's width and of its
height. Each label's text is wrapped to HUD cells (textwrap: CJK characters
take two), which gives its size in HUD pixels and so in normalised photo
coordinates, the coordinates of the anchors (the text regions vision found).

Labels are placed greedily, most important first (bigger, then more
confident regions): over the anchor (hiding the text it translates), else
above, below, right or left of it, each candidate pushed back inside the
photo; the first candidate that keeps a small gap to every label placed so
far wins. A label whose text does not fit on one of those is tried again on a
single line; one that still finds no room is left out (`omitted`). A first
pass also keeps labels off other regions' text; what it could not place, a
second pass places wherever no label is.

Pure and deterministic: the same labels, in any order, give the same layout.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

from sightline.v1.common_pb2 import Rect
from sightline.v1.device_pb2 import HudProfile

from sightline_overlay.domain.textwrap import cell_width, fit, longest_token, wrap

# Rounding slack when deciding whether two boxes only share an edge.
EDGE = 1e-9
# Boxes smaller than this (a 10,000th of the photo side) are noise, not text.
MIN_SIDE = 1e-4


@dataclass(frozen=True)
class Area:
    """A rectangle in normalised photo coordinates (0..1, origin top-left)."""

    x: float
    y: float
    w: float
    h: float

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def bottom(self) -> float:
        return self.y + self.h

    @property
    def centre(self) -> tuple[float, float]:
        return self.x + self.w / 2, self.y + self.h / 2

    def overlaps(self, other: Area, gap_x: float = 0.0, gap_y: float = 0.0) -> bool:
        """Whether the two share area, or come closer than the gap."""
        return (
            self.x < other.right + gap_x
            and other.x < self.right + gap_x
            and self.y < other.bottom + gap_y
            and other.y < self.bottom + gap_y
        )

    def touches(self, other: Area, eps: float = EDGE) -> bool:
        """Whether the two intersect or share an edge (a label next to its anchor)."""
        return self.x <= other.right + eps and other.x <= self.right + eps and self.y <= other.bottom + eps and other.y <= self.bottom + eps

    def inside_unit(self, eps: float = EDGE) -> bool:
        return self.x >= -eps and self.y >= -eps and self.right <= 1 + eps and self.bottom <= 1 + eps


def clean_area(x: float, y: float, w: float, h: float) -> Area | None:
    """The part of a box that lies on the photo, or None when there is none
    worth a label (NaN or infinite values, no width or height, off the photo)."""
    values = (x, y, w, h)
    if not all(math.isfinite(v) for v in values) or w <= 0 or h <= 0:
        return None
    left, top = max(0.0, x), max(0.0, y)
    right, bottom = min(1.0, x + w), min(1.0, y + h)
    if right - left < MIN_SIDE or bottom - top < MIN_SIDE:
        return None
    return Area(left, top, right - left, bottom - top)


@dataclass(frozen=True)
class Canvas:
    """The photo as drawn on the HUD: its size in HUD pixels and the HUD's text cell."""

    width_px: float
    height_px: float
    cell_px: float
    line_px: float

    @classmethod
    def contain(cls, image_width: int, image_height: int, region: Rect, hud: HudProfile, *, text_scale: float = 1.0) -> Canvas:
        """The photo fitted inside `region` (HUD pixels), aspect kept; label
        text is `text_scale` times the HUD's cell and line (labels sit over a
        photo, where the caption-sized text of the HUD would hide too much)."""
        if image_width <= 0 or image_height <= 0:
            raise ValueError(f"a photo of {image_width}x{image_height} pixels cannot be drawn")
        scale = min(region.width / image_width, region.height / image_height)
        return cls(
            width_px=image_width * scale,
            height_px=image_height * scale,
            cell_px=max(1.0, hud.cell_width_px * text_scale),
            line_px=max(1.0, hud.line_height_px * text_scale),
        )

    @property
    def pad_x(self) -> float:
        # Half a cell each side: the label's background reaches past its first and last character.
        return self.cell_px / 2

    @property
    def pad_y(self) -> float:
        return self.line_px / 8


@dataclass(frozen=True)
class LabelStyle:
    max_lines: int = 2
    max_columns: int = 24
    max_labels: int = 12
    # Least room between two labels, in HUD pixels.
    gap_px: float = 2.0
    # Label text size against the HUD's cell and line height.
    text_scale: float = 1.0


@dataclass(frozen=True)
class LabelRequest:
    """One label to place: `key` identifies it (the text region's index)."""

    key: int
    anchor: Area
    text: str
    confidence: float = 1.0

    @property
    def priority(self) -> float:
        """Bigger regions first (the sign, not the small print), confidence as a weight."""
        confidence = self.confidence if math.isfinite(self.confidence) else 0.0
        return self.anchor.w * self.anchor.h * (0.5 + 0.5 * min(1.0, max(0.0, confidence)))


@dataclass(frozen=True)
class LabelText:
    lines: tuple[str, ...]
    truncated: bool

    @property
    def cells(self) -> int:
        return max((cell_width(line) for line in self.lines), default=0)


@dataclass(frozen=True)
class PlacedLabel:
    key: int
    anchor: Area
    placement: Area
    text: LabelText
    side: str


@dataclass(frozen=True)
class Layout:
    # In the order they were placed (most important first).
    placed: tuple[PlacedLabel, ...]
    # Keys of the labels left out for lack of room, most important first.
    omitted: tuple[int, ...]

    def by_key(self) -> dict[int, PlacedLabel]:
        return {label.key: label for label in self.placed}


@functools.lru_cache(maxsize=8192)
def _wrapped(text: str, columns: int) -> tuple[str, ...]:
    # The same texts are laid out again when a photo's translation or its deadline comes.
    return tuple(wrap(text, columns))


def _max_columns(canvas: Canvas, style: LabelStyle) -> int:
    return min(style.max_columns, int((canvas.width_px - 2 * canvas.pad_x) // canvas.cell_px))


def text_variants(request: LabelRequest, canvas: Canvas, style: LabelStyle) -> list[LabelText]:
    """The ways to wrap a label's text, preferred first: the narrowest block
    with as many lines as its anchor is tall (a one-line sign gets a one-line
    label), then with max_lines lines, then on one line; never breaking a
    word where a wider block would keep it; cut ("…") only if even the widest
    line allowed needs more lines, and such cut variants come last."""
    widest = _max_columns(canvas, style)
    if widest < 2:
        return []  # the photo is drawn narrower than one wide character
    rows = max(1, min(style.max_lines, int((canvas.height_px - 2 * canvas.pad_y) // canvas.line_px)))
    tall = max(1, min(rows, round(request.anchor.h * canvas.height_px / canvas.line_px)))
    narrowest = min(widest, max(2, longest_token(request.text)))
    variants: list[LabelText] = []
    for lines_wanted in dict.fromkeys((tall, rows, 1)):
        columns = _narrowest(request.text, narrowest, widest, lines_wanted)
        lines = _wrapped(request.text, columns)
        if not lines:
            return []
        kept, truncated = fit(list(lines), lines_wanted, columns)
        variant = LabelText(tuple(kept), truncated)
        if variant not in variants:
            variants.append(variant)
    return sorted(variants, key=lambda variant: variant.truncated)


def _narrowest(text: str, low: int, high: int, rows: int) -> int:
    """The fewest columns in low..high that wrap `text` into at most `rows`
    lines (binary search: fewer columns never take fewer lines); high if none do."""
    if len(_wrapped(text, high)) > rows:
        return high
    while low < high:
        middle = (low + high) // 2
        if len(_wrapped(text, middle)) <= rows:
            high = middle
        else:
            low = middle + 1
    return high


def label_size(text: LabelText, canvas: Canvas) -> tuple[float, float]:
    """The label's width and height as fractions of the photo's."""
    width_px = text.cells * canvas.cell_px + 2 * canvas.pad_x
    height_px = len(text.lines) * canvas.line_px + 2 * canvas.pad_y
    return width_px / canvas.width_px, height_px / canvas.height_px


def candidates(anchor: Area, w: float, h: float) -> list[tuple[str, Area]]:
    """Where a w x h label may go, preferred first: centred over its anchor;
    then above, below, right and left of it, each centred on the anchor and
    then aligned with either end of it. Each is pushed back inside the photo
    (which keeps it over or next to the anchor: see the module's tests)."""
    if w > 1 or h > 1:
        return []
    cx, cy = anchor.centre
    along_x = (cx - w / 2, anchor.x, anchor.right - w)
    along_y = (cy - h / 2, anchor.y, anchor.bottom - h)
    spots = [("over", cx - w / 2, cy - h / 2)]
    spots += [("above", x, anchor.y - h) for x in along_x]
    spots += [("below", x, anchor.bottom) for x in along_x]
    spots += [("right", anchor.right, y) for y in along_y]
    spots += [("left", anchor.x - w, y) for y in along_y]
    out: list[tuple[str, Area]] = []
    for side, wanted_x, wanted_y in spots:
        x = min(max(wanted_x, 0.0), 1.0 - w)
        y = min(max(wanted_y, 0.0), 1.0 - h)
        out.append((side, Area(x, y, min(w, 1.0 - x), min(h, 1.0 - y))))
    return out


def layout(requests: list[LabelRequest], canvas: Canvas, style: LabelStyle | None = None) -> Layout:
    """Two greedy passes in priority order: the first places only labels that
    hide no other region's text; the second places what is left wherever no
    label is. At most max_labels are placed; the rest are omitted."""
    style = style or LabelStyle()
    gaps = (style.gap_px / canvas.width_px, style.gap_px / canvas.height_px)
    order = sorted(requests, key=lambda r: (-r.priority, r.key))
    # Each label's wrapped texts and their sizes, worked out once (for both passes) when first needed.
    known: dict[int, list[tuple[LabelText, tuple[float, float]]]] = {}

    def sized(n: int) -> list[tuple[LabelText, tuple[float, float]]]:
        if n not in known:
            known[n] = [(text, label_size(text, canvas)) for text in text_variants(order[n], canvas, style)]
        return known[n]

    anchors = [_edges(request.anchor) for request in order]
    placed: list[tuple[int, PlacedLabel]] = []
    left: list[int] = []
    for n, request in enumerate(order):
        spot = None
        if len(placed) < style.max_labels:
            others = anchors[:n] + anchors[n + 1 :]
            spot = _place(request, sized(n), placed, gaps, others)
        if spot is None:
            left.append(n)
        else:
            placed.append((n, spot))
    omitted: list[int] = []
    for n in left:
        spot = None if len(placed) >= style.max_labels else _place(order[n], sized(n), placed, gaps, [])
        if spot is None:
            omitted.append(order[n].key)
        else:
            placed.append((n, spot))
    placed.sort(key=lambda item: item[0])
    return Layout(tuple(spot for _, spot in placed), tuple(omitted))


Edges = tuple[float, float, float, float]


def _edges(area: Area) -> Edges:
    return area.x, area.y, area.right, area.bottom


def _place(
    request: LabelRequest,
    variants: list[tuple[LabelText, tuple[float, float]]],
    placed: list[tuple[int, PlacedLabel]],
    gaps: tuple[float, float],
    avoid: list[Edges],
) -> PlacedLabel | None:
    # Plain tuples and inlined comparisons: this loop runs for every candidate of every label.
    gap_x, gap_y = gaps
    taken = [(p.placement.x - gap_x, p.placement.y - gap_y, p.placement.right + gap_x, p.placement.bottom + gap_y) for _, p in placed]
    anchor = request.anchor
    for text, (w, h) in variants:
        # Only the regions a candidate can reach matter (the anchor grown by the label's size).
        reach = (anchor.x - w, anchor.y - h, anchor.right + w, anchor.bottom + h)
        near = [a for a in avoid if a[0] < reach[2] and reach[0] < a[2] and a[1] < reach[3] and reach[1] < a[3]]
        for side, box in candidates(anchor, w, h):
            if not box.touches(anchor):
                continue
            x, y, r, b = box.x, box.y, box.right, box.bottom
            if any(x < t[2] and t[0] < r and y < t[3] and t[1] < b for t in taken):
                continue
            # Sharing an edge with another region is fine (a label right above a sign below it).
            if any(x < a[2] - EDGE and a[0] < r - EDGE and y < a[3] - EDGE and a[1] < b - EDGE for a in near):
                continue
            return PlacedLabel(request.key, anchor, box, text, side)
    return None

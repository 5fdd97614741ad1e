"""Photo labels on the HUD page in a real browser (Debian's headless Chromium
driven by Selenium), laid out by the real overlay service.

A real nats-server, the overlay service in-process, a real GlassesAgent with
its HudServer. A sign photo (Pillow, Noto CJK) is "taken"; a VisionResult for
it and then its Translation are published as vision and translation do. The
page must draw every label over or right next to its text region, no two
labels overlapping, each inside the photo and at the placement the overlay
chose, its text fitted to its box; a leader line to the anchor of each label
that is not over it; the status while pending; tags, the code chip and
"+N more". Saves hud-labels-pending.png and hud-labels.png (docs/images/ with `make screenshots`).
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import nats
import pytest
from PIL import Image, ImageDraw, ImageFont
from sightline.v1.common_pb2 import Box
from sightline.v1.display_pb2 import HudRegion
from sightline.v1.translation_pb2 import TextOrigin, TranslatedRegion, Translation, TranslationStatus
from sightline.v1.vision_pb2 import DecodedCode, ImageTag, TextRegion, VisionResult
from sightline_cli.stack import SERVICES
from sightline_overlay.app import create_service
from sightline_overlay.settings import OverlaySettings
from sightline_runtime import subjects
from sightline_runtime.devices import DeviceRegistry
from sightline_runtime.events import event_headers, new_meta
from sightline_runtime.processes import free_port
from sightline_runtime.streams import ensure_streams
from sightline_runtime.surface import deployment_streams, load_surfaces

# The HUD page's browser and agent fixtures and helpers, shared with the page's own test.
from tests.e2e.test_hud_browser import DEVICE, SCREENSHOTS, browser, glasses, in_browser, wait_js  # noqa: F401

FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
WIDTH, HEIGHT = 1280, 960
# (text as read, language, box in photo fractions, translation): neighbours close
# enough that labels over their text would collide, and two bits of small print.
SIGNS = [
    ("出口", "zh", (0.08, 0.10, 0.16, 0.10), "Exit"),
    ("禁止吸烟", "zh", (0.30, 0.12, 0.30, 0.10), "No smoking"),
    ("收银台", "zh", (0.64, 0.14, 0.22, 0.09), "Cashier"),
    ("拿铁 ¥28", "zh", (0.35, 0.52, 0.22, 0.08), "Latte ¥28"),
    ("小心地滑", "zh", (0.36, 0.61, 0.22, 0.08), "Caution, wet floor"),
    ("OPEN 9:00-21:00", "en", (0.10, 0.82, 0.40, 0.07), "OPEN 9:00-21:00"),
    ("小字", "zh", (0.90, 0.90, 0.04, 0.025), "Small print"),
    ("细则", "zh", (0.85, 0.90, 0.04, 0.025), "Terms"),
]
MAX_LABELS = 6


def sign_photo() -> bytes:
    """The signs drawn where their boxes say, light on a dark wall."""
    if not FONT.exists():
        pytest.fail(f"{FONT} missing: install Debian's fonts-noto-cjk (scripts/install-system-deps.sh)")
    image = Image.new("RGB", (WIDTH, HEIGHT), (40, 44, 52))
    draw = ImageDraw.Draw(image)
    for text, _, (x, y, w, h), _ in SIGNS:
        box = (x * WIDTH, y * HEIGHT, (x + w) * WIDTH, (y + h) * HEIGHT)
        draw.rectangle(box, fill=(230, 230, 220))
        font = ImageFont.truetype(str(FONT), size=max(10, int(h * HEIGHT * 0.7)))
        draw.text((box[0] + 6, box[1] + 2), text, fill=(20, 20, 20), font=font)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=80)
    return out.getvalue()


def vision_result(photo_id: str) -> VisionResult:
    event = VisionResult(meta=new_meta(DEVICE, "vision"), photo_id=photo_id, image_width=WIDTH, image_height=HEIGHT, target_language="en")
    event.captured_at.GetCurrentTime()
    for text, language, (x, y, w, h), _ in SIGNS:
        event.text_regions.append(TextRegion(text=text, language=language, confidence=0.9, box=Box(x=x, y=y, width=w, height=h)))
    event.tags.extend([ImageTag(label="street sign", score=0.61), ImageTag(label="shop front", score=0.22)])
    event.codes.append(DecodedCode(format="EAN13", text="6901234567892", box=Box(x=0.7, y=0.7, width=0.1, height=0.05)))
    return event


def photo_translation(result: VisionResult) -> Translation:
    event = Translation(
        meta=new_meta(DEVICE, "translation"),
        source_event_id=result.meta.event_id,
        photo_id=result.photo_id,
        origin=TextOrigin.TEXT_ORIGIN_SIGN,
        is_final=True,
        source_language="zh",
        target_language="en",
        status=TranslationStatus.TRANSLATION_STATUS_OK,
        engine="cedict",
    )
    for index, (text, _, _, translated) in enumerate(SIGNS):
        event.regions.append(TranslatedRegion(region_index=index, source_text=text, text=translated))
    return event


async def _durables_exist(js) -> bool:
    names = {info.name for stream in ("VISION", "TRANSLATION") for info in await js.consumers_info(stream)}
    return {"overlay-vision-results", "overlay-photo-translations"} <= names


@pytest.fixture
async def labels_stack(glasses, nats_server, run_service):  # noqa: F811
    """The page's agent and HUD server, with the real overlay service behind them."""
    agent, hud, _ = glasses
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    await (await DeviceRegistry(js).open()).add(DEVICE)
    # Every service's streams, as a deployment has them (overlay also takes asr's finals).
    await ensure_streams(js, deployment_streams(load_surfaces(SERVICES)))
    settings = OverlaySettings(
        nats_url=nats_server.url,
        http_port=free_port(),
        http_host="127.0.0.1",
        labels_max_labels=MAX_LABELS,
        labels_translation_deadline_s=60,
    )
    await run_service(create_service(settings))
    # Its durables start at new events: publish only once they exist (they are created as it starts).
    async with asyncio.timeout(15):
        while not await _durables_exist(js):
            await asyncio.sleep(0.05)
    yield agent, hud, js
    await nc.drain()


# Every label as drawn, with its anchor, the photo frame and any leader line, in HUD pixels.
GEOMETRY = """
const hud = document.getElementById('hud').getBoundingClientRect();
const box = (node) => {
  const r = node.getBoundingClientRect();
  return {x: r.x - hud.x, y: r.y - hud.y, width: r.width, height: r.height};
};
const frame = document.querySelector('.labels .photo-frame');
return {
  frame: box(frame),
  labels: [...frame.querySelectorAll('.label-tag.placed')].map((tag) => {
    const style = getComputedStyle(tag);
    const room = tag.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    return {
      index: tag.dataset.label, text: tag.querySelector('.label-text').textContent, status: tag.dataset.status || '',
      box: box(tag), anchor: box(frame.querySelector(`.anchor[data-label='${tag.dataset.label}']`)),
      leader: Boolean(frame.querySelector(`.leaders line[data-label='${tag.dataset.label}']`)),
      fits: [...tag.querySelectorAll('.line')].every((line) => line.scrollWidth <= room + 1),
    };
  }),
  chips: [...document.querySelectorAll('.labels .chip')].map((chip) => ({cls: chip.className, text: chip.textContent})),
};
"""


def _touch(a: dict, b: dict, slack: float) -> bool:
    return (
        a["x"] <= b["x"] + b["width"] + slack
        and b["x"] <= a["x"] + a["width"] + slack
        and a["y"] <= b["y"] + b["height"] + slack
        and b["y"] <= a["y"] + a["height"] + slack
    )


def _overlap_area(a: dict, b: dict) -> float:
    w = min(a["x"] + a["width"], b["x"] + b["width"]) - max(a["x"], b["x"])
    h = min(a["y"] + a["height"], b["y"] + b["height"]) - max(a["y"], b["y"])
    return max(0.0, w) * max(0.0, h)


async def _labels_shown(agent, photo_id: str, translated: bool):
    """The labels update the glasses hold, once it is the one wanted."""
    async with asyncio.timeout(10):
        while True:
            update = agent.hud.regions.get(HudRegion.HUD_REGION_LABELS)
            if update is not None and update.labels.photo_id == photo_id:
                statuses = {label.translation_status for label in update.labels.labels}
                if translated == ("pending" not in statuses):
                    return update
            await asyncio.sleep(0.02)


async def test_labels_are_drawn_over_their_regions_and_never_over_each_other(labels_stack, browser):  # noqa: F811
    agent, hud, js = labels_stack
    agent.photo_taken("sign-1", "image/jpeg", sign_photo())
    result = vision_result("sign-1")
    await js.publish(
        subjects.domain("vision", "result", DEVICE), result.SerializeToString(), headers=event_headers(result), stream="VISION"
    )
    update = await _labels_shown(agent, "sign-1", translated=False)
    assert len(update.labels.labels) == MAX_LABELS, "the small print is what finds no room"

    await in_browser(browser.get, hud.url)
    await in_browser(wait_js, browser, "document.querySelector(\".region[data-region='labels']\")?.dataset.photo === 'loaded'", "the photo")
    await in_browser(wait_js, browser, f"document.querySelectorAll('.label-tag.placed').length === {MAX_LABELS}", "the labels")
    pending = browser.execute_script(GEOMETRY)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await in_browser(browser.find_element("id", "hud").screenshot, str(SCREENSHOTS / "hud-labels-pending.png"))
    assert {label["text"]: label["status"] for label in pending["labels"]}["出口"] == "pending"
    assert {label["status"] for label in pending["labels"] if label["text"].startswith("OPEN")} == {""}, "already English"

    translation = photo_translation(result)
    await js.publish(
        subjects.domain("translation", "photo", DEVICE),
        translation.SerializeToString(),
        headers=event_headers(translation),
        stream="TRANSLATION",
    )
    update = await _labels_shown(agent, "sign-1", translated=True)
    await in_browser(
        wait_js,
        browser,
        "[...document.querySelectorAll('.label-tag.placed .label-text')].some(t => t.textContent === 'Exit')",
        "the translation",
    )
    await in_browser(wait_js, browser, "document.querySelector(\".region[data-region='labels']\")?.dataset.photo === 'loaded'", "the photo")
    await asyncio.sleep(0.2)  # one animation frame for the text to be fitted
    drawn = browser.execute_script(GEOMETRY)
    frame, labels = drawn["frame"], drawn["labels"]
    # The photo is drawn "contain" in the 640x288 labels region: 384x288, centred.
    assert frame == pytest.approx({"x": 128, "y": 32, "width": 384, "height": 288}, abs=1)
    assert {label["text"] for label in labels} >= {"Exit", "No smoking", "Cashier", "Latte ¥28"}
    assert all(label["status"] == "" for label in labels), "translated: no status"

    # Each at the placement the overlay chose (the update the glasses hold).
    assert len(labels) == len(update.labels.labels)
    placements = {str(i): label.placement for i, label in enumerate(update.labels.labels)}
    for label in labels:
        p = placements[label["index"]]
        expected = {
            "x": frame["x"] + p.x * frame["width"],
            "y": frame["y"] + p.y * frame["height"],
            "width": p.width * frame["width"],
            "height": p.height * frame["height"],
        }
        assert label["box"] == pytest.approx(expected, abs=1.5), label["text"]

    for n, label in enumerate(labels):
        box, anchor = label["box"], label["anchor"]
        assert _touch(box, anchor, slack=1.0), f"{label['text']} lies over or next to its region"
        assert box["x"] >= frame["x"] - 1
        assert box["x"] + box["width"] <= frame["x"] + frame["width"] + 1
        assert box["y"] >= frame["y"] - 1, "inside the photo"
        assert box["y"] + box["height"] <= frame["y"] + frame["height"] + 1, "inside the photo"
        assert label["fits"], f"{label['text']} overflows its box"
        # A leader line exactly for the labels not over their anchor.
        over = _overlap_area(box, anchor) > 4  # a label beside its anchor only touches it
        assert label["leader"] is not over, label["text"]
        for other in labels[n + 1 :]:
            assert _overlap_area(box, other["box"]) < 0.5, f"{label['text']} and {other['text']} overlap"
    assert any(label["leader"] for label in labels), "the crowded signs push some labels beside their text"

    # Tags best first, the decoded code, and what found no room.
    omitted = update.labels.omitted
    assert omitted == len(SIGNS) - len(labels) >= 2
    assert drawn["chips"] == [
        {"cls": "chip", "text": "street sign"},
        {"cls": "chip", "text": "shop front"},
        {"cls": "chip code", "text": "EAN13 6901234567892"},
        {"cls": "chip more", "text": f"+{omitted} more"},
    ]

    await in_browser(browser.find_element("id", "hud").screenshot, str(SCREENSHOTS / "hud-labels.png"))
    for name in ("hud-labels-pending.png", "hud-labels.png"):
        assert (SCREENSHOTS / name).stat().st_size < 200_000, f"{name} must stay small"

from sightline.v1.device_pb2 import HudProfile
from sightline.v1.display_pb2 import HudRegion
from sightline_overlay.domain.hud import region_box
from sightline_overlay.domain.panel import panel_update
from sightline_overlay.domain.textwrap import cell_width
from sightline_runtime.devices import DEFAULT_HUD


def test_default_hud_is_640_by_480():
    assert (DEFAULT_HUD.width_px, DEFAULT_HUD.height_px) == (640, 480)


def test_regions_lie_inside_the_display_and_captions_below_the_panel():
    for region in (HudRegion.HUD_REGION_STATUS, HudRegion.HUD_REGION_PANEL, HudRegion.HUD_REGION_CARD, HudRegion.HUD_REGION_CAPTION):
        rect = region_box(region, DEFAULT_HUD).rect
        assert rect.x + rect.width <= 640
        assert rect.y + rect.height <= 480
    panel = region_box(HudRegion.HUD_REGION_PANEL, DEFAULT_HUD).rect
    caption = region_box(HudRegion.HUD_REGION_CAPTION, DEFAULT_HUD).rect
    assert panel.y + panel.height <= caption.y


def test_panel_text_is_wrapped_to_the_panel_width():
    update = panel_update("The quick brown fox jumps over the lazy dog " * 3, "en", DEFAULT_HUD, ttl_ms=1000)
    box = region_box(HudRegion.HUD_REGION_PANEL, DEFAULT_HUD)
    assert box.columns == 38
    lines = update.panel.text.lines
    assert len(lines) > 1
    assert all(cell_width(line) <= box.columns for line in lines)
    assert update.bounds == box.rect
    assert update.ttl_ms == 1000


def test_a_smaller_display_gets_narrower_lines():
    small = HudProfile(width_px=320, height_px=240, cell_width_px=16, line_height_px=32)
    wide = panel_update("这是一个很长的中文句子需要在小屏幕上换行显示", "zh", DEFAULT_HUD, ttl_ms=0)
    narrow = panel_update("这是一个很长的中文句子需要在小屏幕上换行显示", "zh", small, ttl_ms=0)
    assert len(narrow.panel.text.lines) > len(wide.panel.text.lines)
    assert all(cell_width(line) <= region_box(HudRegion.HUD_REGION_PANEL, small).columns for line in narrow.panel.text.lines)


def test_text_too_long_for_the_panel_is_truncated_not_refused():
    update = panel_update("word " * 500, "en", DEFAULT_HUD, ttl_ms=0)
    assert update.panel.text.truncated
    assert len(update.panel.text.lines) == region_box(HudRegion.HUD_REGION_PANEL, DEFAULT_HUD).rows

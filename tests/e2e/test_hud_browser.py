"""The HUD page in a real browser (Debian's headless Chromium driven by Selenium).

1. In process: a real nats-server, a real GlassesAgent with its HudServer;
   real DisplayUpdate protobufs published on glasses.<device>.down.display.
   The page must show every kind at its place, ignore stale versions, expire
   by ttl, escape text and resync after a reconnect. Saves hud.png (docs/images/ with `make screenshots`).
2. As a user runs it: `sightline up --demo`, the demo HUD plays; then
   `sightline glasses --device a --text hello` prints a HUD URL whose page
   shows "hello".
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import nats
import pytest
from google.protobuf.json_format import ParseDict
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait
from sightline.v1.display_pb2 import DisplayUpdate
from sightline_glasses.agent import GlassesAgent
from sightline_glasses.hud import HudServer
from sightline_glasses.hud_state import HudState
from sightline_runtime import subjects
from sightline_runtime.events import new_meta

from tests.conftest import ROOT, VENV_BIN
from tests.e2e.test_cli_stack import _all_ready, _wait_for

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
STREET = ROOT / "services" / "glasses" / "src" / "sightline_glasses" / "demo" / "media" / "street.jpg"
# `make screenshots` points this at docs/images to refresh the README's pictures;
# a normal test run keeps them in a temp dir so CI never rewrites tracked files.
SCREENSHOTS = Path(os.environ.get("SIGHTLINE_SCREENSHOT_DIR") or tempfile.mkdtemp(prefix="sightline-hud-"))
SIGHTLINE = str(VENV_BIN / "sightline")
DEVICE = "hud-e2e"


# --- the browser ---
@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if missing:
        pytest.fail(f"{', '.join(missing)} missing: install Debian's chromium and chromium-driver (scripts/install-system-deps.sh)")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    profile = tempfile.mkdtemp(prefix="hud-chromium-")
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--window-size=900,800",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait_js(driver: webdriver.Chrome, script: str, what: str, timeout_s: float = 10.0):
    """Wait until the JS expression `script` is truthy in the page; returns its value."""
    try:
        return WebDriverWait(driver, timeout_s, poll_frequency=0.05).until(lambda d: d.execute_script(f"return ({script});"))
    except TimeoutException:
        raise AssertionError(f"the page never showed {what}") from None


def region_text(driver: webdriver.Chrome, region: str) -> str | None:
    script = "const r = document.querySelector(`.region[data-region='${arguments[0]}']`); return r ? r.textContent : null;"
    return driver.execute_script(script, region)


def rect(driver: webdriver.Chrome, selector: str) -> dict[str, float]:
    """A rectangle relative to the HUD's top-left corner, in HUD pixels."""
    return driver.execute_script(
        "const hud = document.getElementById('hud').getBoundingClientRect();"
        "const r = document.querySelector(arguments[0]).getBoundingClientRect();"
        "return {x: r.x - hud.x, y: r.y - hud.y, width: r.width, height: r.height};",
        selector,
    )


# --- publishing real display updates ---
class Display:
    """Publishes DisplayUpdate protobufs on the device's down-link, as the overlay does."""

    def __init__(self, nc: nats.aio.client.Client, device: str) -> None:
        self.nc = nc
        self.device = device

    async def send(self, version: int, fields: dict) -> DisplayUpdate:
        update = ParseDict(fields, DisplayUpdate())
        update.region_version = version
        update.meta.CopyFrom(new_meta(self.device, "overlay", seq=version))
        await self.nc.publish(subjects.down_display(self.device), update.SerializeToString())
        await self.nc.flush()
        return update


STATUS_OFFLINE = {"region": "HUD_REGION_STATUS", "bounds": {"x": 0, "y": 0, "width": 640, "height": 32}, "status": {"queued": 12}}
LABELS = {
    "region": "HUD_REGION_LABELS",
    "bounds": {"x": 0, "y": 32, "width": 640, "height": 288},
    "ttl_ms": 120_000,
    "labels": {
        "photo_id": "street-1",
        "tags": ["shop front", "street sign"],
        "labels": [
            {"anchor": {"x": 0.1125, "y": 0.217, "width": 0.475, "height": 0.233}, "text": {"lines": ["Café"]}, "source_text": "咖啡馆"},
            {"anchor": {"x": 0.681, "y": 0.3, "width": 0.1875, "height": 0.15}, "text": {"lines": ["Exit"]}, "source_text": "出口"},
            {
                "anchor": {"x": 0.375, "y": 0.55, "width": 0.1875, "height": 0.15},
                "text": {"lines": ["Latte ¥28"]},
                "source_text": "拿铁 ¥28",
            },
        ],
    },
}
CAPTION = {
    "region": "HUD_REGION_CAPTION",
    "bounds": {"x": 16, "y": 320, "width": 608, "height": 160},
    "ttl_ms": 120_000,
    "caption": {
        "entries": [
            {
                "utterance_id": "u1",
                "is_final": True,
                "source": {"lines": ["Where is the train station?"], "language": "en"},
                "translation": {"lines": ["火车站在哪里？"], "language": "zh"},
                "translation_engine": "cedict",
            },
            {
                "utterance_id": "u2",
                "source": {"lines": ["How much is a latte"], "language": "en"},
                "translation": {"lines": ["拿铁多少钱"], "language": "zh"},
            },
        ]
    },
}
PAYMENT = {
    "region": "HUD_REGION_CARD",
    "bounds": {"x": 64, "y": 48, "width": 512, "height": 256},
    "card": {
        "card_id": "c1",
        "kind": "CARD_KIND_PAYMENT_CONFIRMATION",
        "title": {"lines": ["Pay Blue Bottle Café?"]},
        "body": {"lines": ["1 × Latte, oat milk"]},
        "amount": {"currency_code": "CNY", "minor_units": "2800"},
        "actions": [{"action_id": "confirm", "label": "Nod to pay"}, {"action_id": "cancel", "label": "Cancel"}],
        "reference_id": "pi-7f3a",
        "challenge": "4F7K29",
    },
}


def panel(text: str, ttl_ms: int = 0) -> dict:
    bounds = {"x": 16, "y": 48, "width": 608, "height": 224}
    return {"region": "HUD_REGION_PANEL", "bounds": bounds, "ttl_ms": ttl_ms, "panel": {"text": {"lines": [text]}}}


@pytest.fixture
async def glasses(nats_server):
    nc = await nats.connect(nats_server.url)
    async with GlassesAgent.connect(DEVICE, nats_server.url) as agent, HudServer.for_agent(agent) as hud:
        yield agent, hud, Display(nc, DEVICE)
    await nc.drain()


async def in_browser(fn, *args):
    """Selenium blocks; the agent and its HUD server live in this event loop."""
    return await asyncio.to_thread(fn, *args)


async def test_the_page_renders_every_kind_at_its_place_live(glasses, browser):
    agent, hud, display = glasses
    agent.photo_taken("street-1", "image/jpeg", STREET.read_bytes())  # what photo capture does
    await display.send(1, STATUS_OFFLINE)
    await display.send(1, LABELS)
    await display.send(1, CAPTION)
    # Everything above arrives before the page opens: the snapshot carries it.
    async with asyncio.timeout(5):
        while len(agent.hud.regions) < 3:
            await asyncio.sleep(0.02)

    await in_browser(browser.get, hud.url)
    await in_browser(wait_js, browser, "document.getElementById('hud').dataset.connected === 'true'", "a connection")
    await in_browser(wait_js, browser, "document.querySelector(\".region[data-region='labels']\")?.dataset.photo === 'loaded'", "the photo")

    # Status: offline with the queue count, drawn at its bounds.
    status = region_text(browser, "status")
    assert "offline" in status
    assert "12 queued" in status
    assert rect(browser, ".region.status") == {"x": 0, "y": 0, "width": 640, "height": 32}

    # Labels: each box sits on its normalised anchor over the photo (contain-fitted in 640×288).
    frame = rect(browser, ".labels .photo-frame")
    assert frame == pytest.approx({"x": 128, "y": 32, "width": 384, "height": 288}, abs=1)
    boxes = browser.execute_script(
        "return [...document.querySelectorAll('.labels .anchor')].map(a => {"
        " const hud = document.getElementById('hud').getBoundingClientRect(); const r = a.getBoundingClientRect();"
        " return {text: a.querySelector('.label-text').textContent, source: a.querySelector('.label-source').textContent,"
        " x: r.x - hud.x, y: r.y - hud.y, width: r.width, height: r.height}; });"
    )
    for box, label in zip(boxes, LABELS["labels"]["labels"], strict=True):
        anchor = label["anchor"]
        assert box["text"] == label["text"]["lines"][0]
        assert box["source"] == label["source_text"]
        assert box["x"] == pytest.approx(frame["x"] + anchor["x"] * frame["width"], abs=1.5)
        assert box["y"] == pytest.approx(frame["y"] + anchor["y"] * frame["height"], abs=1.5)
        assert box["width"] == pytest.approx(anchor["width"] * frame["width"], abs=1.5)
    assert browser.execute_script("return [...document.querySelectorAll('.labels .chip')].map(c => c.textContent)") == [
        "shop front",
        "street sign",
    ]

    # Captions: source and CJK translation lines, final vs partial styling, in the lower third.
    entries = browser.execute_script(
        "return [...document.querySelectorAll('.caption .entry')].map(e => ({cls: e.className,"
        " source: e.querySelector('.source').textContent, translation: e.querySelector('.translation').textContent,"
        " lang: e.querySelector('.translation').lang, style: getComputedStyle(e.querySelector('.translation')).fontStyle}))"
    )
    assert entries == [
        {"cls": "entry final", "source": "Where is the train station?", "translation": "火车站在哪里？", "lang": "zh", "style": "normal"},
        {"cls": "entry partial", "source": "How much is a latte", "translation": "拿铁多少钱", "lang": "zh", "style": "italic"},
    ]
    assert rect(browser, ".region.caption")["y"] == 320
    assert browser.execute_script("return document.fonts.check(\"25px 'Noto Sans CJK SC'\", '火车站')"), "fonts-noto-cjk is missing"

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await in_browser(browser.find_element("id", "hud").screenshot, str(SCREENSHOTS / "hud.png"))

    # A payment confirmation card arrives live: amount, merchant, actions, the one-time challenge.
    await display.send(2, PAYMENT)
    await in_browser(wait_js, browser, "document.querySelector('.region.card')", "the payment card")
    card = browser.execute_script(
        "const c = document.querySelector('.region.card'); return {kind: c.dataset.cardKind,"
        " title: c.querySelector('.card-title').textContent, amount: c.querySelector('.card-money .value').textContent,"
        " currency: c.querySelector('.card-money .currency').textContent, code: c.querySelector('.card-challenge .code').textContent,"
        " actions: [...c.querySelectorAll('.action')].map(a => a.textContent), body: c.querySelector('.card-body').textContent}"
    )
    assert card == {
        "kind": "payment",
        "title": "Pay Blue Bottle Café?",
        "amount": "¥28.00",
        "currency": "CNY",
        "code": "4F7K29",
        "actions": ["Nod to pay", "Cancel"],
        "body": "1 × Latte, oat milk",
    }
    assert rect(browser, ".region.card") == {"x": 64, "y": 48, "width": 512, "height": 256}
    await in_browser(browser.find_element("id", "hud").screenshot, str(SCREENSHOTS / "hud-payment.png"))
    for name in ("hud.png", "hud-payment.png"):
        assert (SCREENSHOTS / name).stat().st_size < 200_000, f"{name} must stay small"

    # The card goes, and the labels are cleared.
    await display.send(3, {"region": "HUD_REGION_CARD", "clear": {}})
    await display.send(2, {"region": "HUD_REGION_LABELS", "clear": {}})
    await in_browser(wait_js, browser, "!document.querySelector('.region.card') && !document.querySelector('.region.labels')", "the clears")


async def test_stale_versions_ttl_escaping_and_reconnect(glasses, browser):
    agent, hud, display = glasses
    await in_browser(browser.get, hud.url)
    await in_browser(wait_js, browser, "document.getElementById('hud').dataset.connected === 'true'", "a connection")

    # Latest-wins: an older version that arrives later is never shown.
    await display.send(10, panel("fresh"))
    await in_browser(wait_js, browser, "document.querySelector('.region.panel')?.textContent === 'fresh'", "the fresh panel")
    await display.send(9, panel("stale"))
    await display.send(10, panel("replayed"))
    await display.send(5, {"region": "HUD_REGION_STATUS", "status": {"online": True}})  # arrives after both
    await in_browser(wait_js, browser, "document.querySelector('.region.status')", "the status marker")
    assert region_text(browser, "panel") == "fresh"

    # ttl: shown, then gone by itself.
    await display.send(11, panel("short-lived", ttl_ms=1200))
    await in_browser(wait_js, browser, "document.querySelector('.region.panel')?.textContent === 'short-lived'", "the short-lived panel")
    started = time.monotonic()
    await in_browser(wait_js, browser, "!document.querySelector('.region.panel')", "the panel expiring", 5)
    assert 0.5 < time.monotonic() - started < 2.5

    # Text is text: markup in an update is shown literally and never runs.
    hostile = '<img src=x onerror="window.__pwned = 1"><b>bold</b>'
    await display.send(12, panel(hostile))
    await in_browser(wait_js, browser, "document.querySelector('.region.panel')", "the hostile panel")
    assert region_text(browser, "panel") == hostile
    assert browser.execute_script("return document.querySelectorAll('.region.panel img, .region.panel b').length") == 0
    assert browser.execute_script("return window.__pwned === undefined")

    # Reconnect: the HUD server goes away; what changes meanwhile arrives as one snapshot.
    port = hud.port
    await hud.stop()
    agent.display_listeners.remove(hud.publish)
    await in_browser(wait_js, browser, "document.getElementById('hud').dataset.connected === 'false'", "the page noticing")
    await display.send(13, panel("while away"))
    await display.send(14, panel("current"))
    async with HudServer.for_agent(agent, port=port):
        await in_browser(wait_js, browser, "document.getElementById('hud').dataset.snapshots === '2'", "a second snapshot", 10)
        assert region_text(browser, "panel") == "current"
        assert browser.execute_script("return document.querySelector('.region.panel').dataset.version") == "14"
        # Link state: the agent's own connection drives the NO LINK badge.
        assert browser.execute_script("return document.getElementById('link').hidden")

    # A restarted agent knows nothing yet: its snapshot replaces the page, nothing old lingers.
    async with HudServer(HudState(), device_id=DEVICE, port=port, link=lambda: False):
        await in_browser(wait_js, browser, "document.getElementById('hud').dataset.snapshots === '3'", "a third snapshot", 10)
        assert browser.execute_script("return document.querySelectorAll('.region').length") == 0
        assert not browser.execute_script("return document.getElementById('link').hidden")


# --- as a user runs it ---
@pytest.fixture
def demo_stack(tmp_path):
    state = tmp_path / ".sightline"
    log_path = tmp_path / "up.log"
    with log_path.open("w") as log:
        up = subprocess.Popen(
            [SIGHTLINE, "up", "--demo", "--state-dir", str(state), "--nats-port", "0"], cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        _wait_for(lambda: _all_ready(state), 120, "every service ready")
        demo_url = _wait_for(lambda: re.search(r"demo HUD: (http://\S+)", log_path.read_text()), 30, "the demo HUD URL").group(1)
    except AssertionError:
        up.kill()
        raise AssertionError(log_path.read_text()) from None
    yield up, state, demo_url, log_path
    if up.poll() is None:
        up.kill()
        up.wait()


@pytest.mark.slow
def test_sightline_up_demo_and_glasses_hud_pages(demo_stack, browser):
    up, state, demo_url, log_path = demo_stack
    assert demo_url.startswith("http://127.0.0.1:")

    # The demo glasses play: the typed-text step comes back through the overlay as a panel.
    browser.get(demo_url)
    wait_js(browser, "document.querySelector('.region.panel')?.textContent.includes('Watch it for a minute')", "the demo's panel", 30)
    wait_js(browser, "document.querySelector('.region.status')", "the demo's status line", 10)

    # `sightline glasses` with the HUD on (the default): its page shows "hello".
    glasses = subprocess.Popen(
        [SIGHTLINE, "glasses", "--state-dir", str(state), "--device", "a", "--text", "hello", "--idle-timeout", "60"],
        cwd=state.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = None
        deadline = time.monotonic() + 60
        while url is None and time.monotonic() < deadline:
            line = glasses.stdout.readline()
            if not line:
                break
            if match := re.search(r"HUD page: (http://\S+)", line):
                url = match.group(1)
        assert url, f"no HUD URL printed; stderr: {glasses.stderr.read() if glasses.poll() is not None else ''}"
        browser.get(url)
        wait_js(browser, "document.querySelector('.region.panel')?.textContent === 'hello'", "hello", 30)
        state_json = httpx.get(url + "state").json()
        assert state_json["device"] == "a"
        assert [item["update"]["panel"]["text"]["lines"] for item in state_json["updates"]] == [["hello"]]
    finally:
        glasses.send_signal(signal.SIGINT)
        try:
            glasses.wait(timeout=20)
        except subprocess.TimeoutExpired:
            glasses.kill()
            glasses.wait()

    # The demo stops with the stack: SIGTERM, clean exit, its HUD port closed.
    up.send_signal(signal.SIGTERM)
    assert up.wait(timeout=60) == 0, log_path.read_text()
    with pytest.raises(httpx.ConnectError):
        httpx.get(demo_url + "state", timeout=2)
    assert "Traceback" not in log_path.read_text()

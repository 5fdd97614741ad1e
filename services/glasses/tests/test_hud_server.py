"""The HUD page server over real HTTP (uvicorn on a loopback port): snapshot
then live, latest-wins, ttl, link state, escaping, photos, security headers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from google.protobuf.json_format import ParseDict
from sightline.v1.display_pb2 import DisplayUpdate, HudRegion
from sightline_glasses.hud import HudServer
from sightline_glasses.hud.photos import InvalidPhoto, PhotoAlbum
from sightline_glasses.hud.wire import envelope
from sightline_glasses.hud_state import HudState

STATIC = Path(__file__).resolve().parents[1] / "src" / "sightline_glasses" / "hud" / "static"
PANEL = HudRegion.HUD_REGION_PANEL
STATUS = HudRegion.HUD_REGION_STATUS


def panel(version: int, text: str, ttl_ms: int = 0) -> DisplayUpdate:
    update = DisplayUpdate(region=PANEL, region_version=version, ttl_ms=ttl_ms)
    update.meta.device_id = "dev1"
    update.panel.text.lines.append(text)
    return update


def status(version: int, *, online: bool, queued: int) -> DisplayUpdate:
    update = DisplayUpdate(region=STATUS, region_version=version)
    update.status.online = online
    update.status.queued = queued
    return update


@dataclass
class Hud:
    state: HudState
    server: HudServer
    link: dict[str, bool]

    def feed(self, update: DisplayUpdate) -> bool:
        """What GlassesAgent does with an update from the bus."""
        if self.state.accept(update):
            self.server.publish(update)
            return True
        return False


@pytest.fixture
async def hud() -> AsyncIterator[Hud]:
    state = HudState()
    link = {"online": True}
    async with HudServer(state, device_id="dev1", link=lambda: link["online"]) as server:
        yield Hud(state, server, link)


class EventStream:
    """A minimal SSE reader (what the browser's EventSource does). Reads in a
    task of its own, so a timed-out wait does not cancel the HTTP stream."""

    def __init__(self, response: httpx.Response) -> None:
        self.events: asyncio.Queue[tuple[str, dict] | None] = asyncio.Queue()
        self._reader = asyncio.create_task(self._read(response))

    async def _read(self, response: httpx.Response) -> None:
        event, data = "message", None
        try:
            async for line in response.aiter_lines():
                if line == "":
                    if data is not None:
                        await self.events.put((event, json.loads(data)))
                    event, data = "message", None
                elif not line.startswith(":"):
                    name, _, value = line.partition(":")
                    value = value.removeprefix(" ")
                    if name == "event":
                        event = value
                    elif name == "data":
                        data = value
        except (httpx.HTTPError, httpx.StreamError):
            pass  # the server went away or the test closed the response: the stream ended
        finally:
            await self.events.put(None)

    async def next(self, timeout_s: float = 5.0) -> tuple[str, dict]:
        item = await asyncio.wait_for(self.events.get(), timeout_s)
        if item is None:
            raise AssertionError("the event stream ended")
        return item

    async def nothing_for(self, seconds: float) -> None:
        try:
            event = await self.next(timeout_s=seconds)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected event {event}")

    def close(self) -> None:
        self._reader.cancel()


async def test_snapshot_first_then_live_updates_as_protobuf_json(hud: Hud):
    hud.feed(panel(5, "before the page"))
    hud.feed(status(3, online=False, queued=7))
    async with httpx.AsyncClient(timeout=10) as client, client.stream("GET", hud.server.url + "events") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        stream = EventStream(response)
        kind, snapshot = await stream.next()
        assert kind == "snapshot"
        assert snapshot["device"] == "dev1"
        assert snapshot["hud"] == {"width": 640, "height": 480}
        assert snapshot["layout"]["HUD_REGION_CAPTION"] == {"x": 16, "y": 320, "width": 608, "height": 160}
        assert snapshot["link"] == {"online": True}
        by_region = {item["update"]["region"]: item["update"] for item in snapshot["updates"]}
        # The canonical protobuf JSON mapping: enum names, camelCase, uint64 as a string.
        assert by_region["HUD_REGION_PANEL"]["regionVersion"] == "5"
        assert by_region["HUD_REGION_PANEL"]["panel"]["text"]["lines"] == ["before the page"]
        assert by_region["HUD_REGION_STATUS"]["status"] == {"queued": 7}  # online=false is the default, so omitted

        hud.feed(panel(6, "live"))
        kind, item = await stream.next()
        assert kind == "update"
        assert item["update"]["regionVersion"] == "6"
        assert item["update"]["panel"]["text"]["lines"] == ["live"]
        assert 0 <= item["ageMs"] < 1000


async def test_stale_updates_never_reach_the_page(hud: Hud):
    hud.feed(panel(10, "ten"))
    async with httpx.AsyncClient(timeout=10) as client, client.stream("GET", hud.server.url + "events") as response:
        stream = EventStream(response)
        await stream.next()
        assert not hud.feed(panel(9, "late"))
        assert not hud.feed(panel(10, "replayed"))
        await stream.nothing_for(0.5)
        hud.feed(panel(11, "newer"))
        _, item = await stream.next()
        assert item["update"]["panel"]["text"]["lines"] == ["newer"]


async def test_a_slow_page_is_sent_only_the_newest_update_per_region(hud: Hud):
    async with httpx.AsyncClient(timeout=10) as client, client.stream("GET", hud.server.url + "events") as response:
        stream = EventStream(response)
        await stream.next()
        # No await between these: the stream cannot send any of them before the last one.
        hud.feed(panel(1, "one"))
        hud.feed(status(1, online=True, queued=1))
        hud.feed(panel(2, "two"))
        hud.feed(panel(3, "three"))
        received = [(await stream.next())[1]["update"] for _ in range(2)]
        assert [(u["region"], u["regionVersion"]) for u in received] == [("HUD_REGION_STATUS", "1"), ("HUD_REGION_PANEL", "3")]
        await stream.nothing_for(0.4)


async def test_a_page_that_reconnects_gets_the_current_state_not_what_it_missed(hud: Hud):
    async with httpx.AsyncClient(timeout=10) as client:
        async with client.stream("GET", hud.server.url + "events") as response:
            stream = EventStream(response)
            await stream.next()
            hud.feed(panel(1, "seen"))
            await stream.next()
        # Disconnected: these happen while the page is away.
        hud.feed(panel(2, "missed"))
        hud.feed(panel(3, "current"))
        hud.feed(status(4, online=True, queued=0))
        async with client.stream("GET", hud.server.url + "events") as response:
            stream = EventStream(response)
            kind, snapshot = await stream.next()
            assert kind == "snapshot"
            versions = {item["update"]["region"]: item["update"]["regionVersion"] for item in snapshot["updates"]}
            assert versions == {"HUD_REGION_PANEL": "3", "HUD_REGION_STATUS": "4"}
            await stream.nothing_for(0.4)  # no replay of "missed" after the snapshot
    # The server forgot the closed streams.
    await asyncio.sleep(0.1)
    assert not hud.server._clients


async def test_snapshot_leaves_out_what_its_ttl_expired_and_tells_the_age_of_the_rest(hud: Hud):
    hud.feed(panel(1, "short", ttl_ms=200))
    hud.feed(status(1, online=True, queued=0))  # ttl 0: until replaced
    await asyncio.sleep(0.3)
    hud.feed(panel(2, "long", ttl_ms=60_000))
    await asyncio.sleep(0.15)
    async with httpx.AsyncClient(timeout=10) as client:
        snapshot = (await client.get(hud.server.url + "state")).json()
    items = {item["update"]["region"]: item for item in snapshot["updates"]}
    assert items["HUD_REGION_PANEL"]["update"]["panel"]["text"]["lines"] == ["long"]
    assert 150 <= items["HUD_REGION_PANEL"]["ageMs"] < 60_000
    assert "HUD_REGION_STATUS" in items

    hud.feed(panel(3, "gone soon", ttl_ms=100))
    await asyncio.sleep(0.2)
    async with httpx.AsyncClient(timeout=10) as client:
        snapshot = (await client.get(hud.server.url + "state")).json()
    assert [item["update"]["region"] for item in snapshot["updates"]] == ["HUD_REGION_STATUS"]


async def test_link_state_changes_are_pushed(hud: Hud):
    async with httpx.AsyncClient(timeout=10) as client, client.stream("GET", hud.server.url + "events") as response:
        stream = EventStream(response)
        await stream.next()
        hud.link["online"] = False
        assert await stream.next() == ("link", {"online": False})
        hud.link["online"] = True
        assert await stream.next() == ("link", {"online": True})


async def test_text_travels_as_json_data_and_cannot_break_the_stream_framing(hud: Hud):
    hostile = '</script><img src=x onerror="alert(1)">\n\nevent: link\ndata: {"online":false}\n\n'
    async with httpx.AsyncClient(timeout=10) as client, client.stream("GET", hud.server.url + "events") as response:
        stream = EventStream(response)
        await stream.next()
        hud.feed(panel(1, hostile))
        kind, item = await stream.next()
        assert kind == "update"
        assert item["update"]["panel"]["text"]["lines"] == [hostile]
        await stream.nothing_for(0.4)  # the embedded "event: link" was data, not an event


def test_the_page_script_never_turns_received_text_into_markup():
    script = (STATIC / "hud.js").read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", 'setAttribute("style"'):
        assert sink not in script, sink
    assert "textContent" in script
    html = (STATIC / "hud.html").read_text()
    # The CSP allows no inline script or style, and everything is served locally.
    for forbidden in ("<script>", "style=", "http://", "https://"):
        assert forbidden not in html, forbidden


async def test_page_assets_security_headers_and_host_check(hud: Hud):
    async with httpx.AsyncClient(timeout=10) as client:
        index = await client.get(hud.server.url)
        assert index.status_code == 200
        assert "static/hud.js" in index.text
        csp = index.headers["content-security-policy"]
        for rule in ("default-src 'none'", "script-src 'self'", "connect-src 'self'", "img-src 'self'"):
            assert rule in csp
        assert index.headers["x-content-type-options"] == "nosniff"
        script = await client.get(hud.server.url + "static/hud.js")
        assert script.status_code == 200
        assert "javascript" in script.headers["content-type"]
        style = await client.get(hud.server.url + "static/hud.css")
        assert style.status_code == 200
        assert style.headers["content-type"].startswith("text/css")
        # DNS rebinding: a name that resolves to 127.0.0.1 but is not ours is refused.
        rebound = await client.get(hud.server.url, headers={"host": "evil.example"})
        assert rebound.status_code == 400
        assert (await client.get(hud.server.url, headers={"host": f"localhost:{hud.server.port}"})).status_code == 200


async def test_binds_to_loopback_on_a_free_port_by_default(hud: Hud):
    assert hud.server.url == f"http://127.0.0.1:{hud.server.port}/"
    assert hud.server.port > 0


async def test_photos_are_served_as_images_only(hud: Hud):
    jpeg = b"\xff\xd8\xff\xe0fake-but-opaque-bytes"
    hud.server.photos.add("photo-1", "image/jpeg", jpeg)
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(hud.server.url + "photos/photo-1")
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/jpeg"
        assert response.content == jpeg
        assert (await client.get(hud.server.url + "photos/nope")).status_code == 404
        assert (await client.get(hud.server.url + "photos/..%2Fhud.html")).status_code == 404
    with pytest.raises(InvalidPhoto):
        hud.server.photos.add("page", "text/html", b"<script>alert(1)</script>")
    with pytest.raises(InvalidPhoto):
        hud.server.photos.add("../etc", "image/png", b"x")


def test_the_album_keeps_only_the_latest_photos():
    album = PhotoAlbum(capacity=2)
    for name in ("a", "b", "c"):
        album.add(name, "image/png", name.encode())
    assert album.get("a") is None
    assert album.get("c").data == b"c"
    assert len(album) == 2


async def test_stop_ends_open_streams_promptly():
    state = HudState()
    server = await HudServer(state, device_id="dev1").start()
    async with httpx.AsyncClient(timeout=10) as client, client.stream("GET", server.url + "events") as response:
        stream = EventStream(response)
        await stream.next()
        async with asyncio.timeout(5):
            await server.stop()
        with pytest.raises((AssertionError, httpx.HTTPError)):
            await stream.next(timeout_s=3)


def test_protobuf_json_round_trips_every_kind():
    """What the page gets is exactly the message: nothing is lost on the wire."""
    samples = [
        {"region": "HUD_REGION_CAPTION", "regionVersion": "1", "caption": {"entries": [{"utteranceId": "u", "isFinal": True}]}},
        {"region": "HUD_REGION_LABELS", "regionVersion": "1", "labels": {"photoId": "p", "labels": [{"anchor": {"x": 0.5}}]}},
        # 2^53 + 1: an int64 a JavaScript number would round, so it travels as a string.
        {
            "region": "HUD_REGION_CARD",
            "regionVersion": "1",
            "card": {"kind": "CARD_KIND_RECEIPT", "amount": {"minorUnits": "9007199254740993"}},
        },
        {"region": "HUD_REGION_PANEL", "regionVersion": "18446744073709551615", "panel": {"text": {"lines": ["x"]}}},
        {"region": "HUD_REGION_STATUS", "regionVersion": "1", "status": {"privacyMode": True}},
        {"region": "HUD_REGION_LABELS", "regionVersion": "2", "clear": {}},
    ]
    for sample in samples:
        update = ParseDict(sample, DisplayUpdate())
        assert envelope(update, 0)["update"] == sample

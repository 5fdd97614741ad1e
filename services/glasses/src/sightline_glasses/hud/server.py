"""The HUD page server: starlette under uvicorn, in the agent's event loop.

Server-Sent Events rather than a WebSocket: the flow is one-way (agent to
page), the browser's EventSource reconnects by itself, and it is plain HTTP
with no extra dependency. Every connection starts with a snapshot of the
agent's HudState, then live updates; a page that reconnects gets the
current state, never a replay of what it missed. A slow page is sent only
the newest pending update per region (latest-wins here too).

The one thing the page sends back: a choice on the card shown
(POST /actions, {"actionId"}), which becomes a Confirmation DeviceInput
on the agent's up-link (reference_id = the action id, approved). Only an
action of the card the HUD holds now is taken, so another web page cannot
make the glasses confirm anything else; a JSON body from this page's own
origin only (a cross-site form cannot send one without a preflight).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING, Any

import uvicorn
from sightline.v1.display_pb2 import Card, CardKind, DisplayUpdate, HudRegion
from sightline.v1.input_pb2 import Confirmation, DeviceInput
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sightline_glasses.hud import wire
from sightline_glasses.hud.layout import HUD_HEIGHT_PX, HUD_WIDTH_PX, layout_json
from sightline_glasses.hud.photos import PHOTO_ID, PhotoAlbum
from sightline_glasses.hud_state import HudState

if TYPE_CHECKING:
    from sightline_glasses.agent import GlassesAgent

log = logging.getLogger(__name__)

STATIC_DIR = resources.files("sightline_glasses.hud") / "static"
# How often a connection checks the agent's link state; also bounds shutdown.
LINK_POLL_S = 0.25
KEEPALIVE_S = 15.0
RECONNECT_MS = 1000
LOOPBACK_NAMES = ["127.0.0.1", "localhost", "[::1]", "::1"]
# A body for /actions is an action id and little else.
MAX_ACTION_BODY = 1024
# Payment confirmations are confirmed by their own gesture and challenge, not a click on this page.
UNCLICKABLE_CARDS = frozenset({CardKind.CARD_KIND_PAYMENT_CONFIRMATION})

# No inline script or style, nothing from elsewhere: the page only talks to this server.
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        b"base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
]


class _SecurityHeaders:
    """Plain ASGI (not BaseHTTPMiddleware) so the event stream is not buffered."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *(h for h in SECURITY_HEADERS if h[0] not in names)]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The host process (the CLI) owns SIGINT/SIGTERM and stops us itself.
        yield


@dataclass(eq=False)  # kept in a set: identity, not value
class _Client:
    """One open page: the updates it has not been sent yet, newest per region."""

    pending: dict[int, tuple[DisplayUpdate, float]] = field(default_factory=dict)
    wake: asyncio.Event = field(default_factory=asyncio.Event)


class HudServer:
    def __init__(
        self,
        hud: HudState,
        *,
        device_id: str,
        host: str = "127.0.0.1",
        port: int = 0,
        link: Callable[[], bool] = lambda: True,
        album: PhotoAlbum | None = None,
        stats: Callable[[], dict[str, int]] | None = None,
        confirm: Callable[[Confirmation], Awaitable[str]] | None = None,
    ) -> None:
        self.hud = hud
        self.device_id = device_id
        self.host = host
        self.port = port
        self.link = link
        self.photos = album or PhotoAlbum()
        # The agent's display queue (pending, dropped), shown on /state for whoever watches memory.
        self.stats = stats
        # Sends a Confirmation up (returns its event id); None: the page's buttons only say so.
        self.confirm = confirm
        self._received: dict[int, float] = {}
        self._clients: set[_Client] = set()
        self._closing = asyncio.Event()
        self._server: _QuietServer | None = None
        self._task: asyncio.Task[None] | None = None
        self.app = self._make_app()

    @classmethod
    def for_agent(cls, agent: GlassesAgent, **options: Any) -> HudServer:
        """A server showing `agent`'s display: fed by its listeners, its link state polled."""

        async def confirm(confirmation: Confirmation) -> str:
            return await agent.send_input(DeviceInput(meta=agent._meta(), confirmation=confirmation))

        server = cls(agent.hud, device_id=agent.device_id, link=lambda: agent.online, stats=agent.display.stats, confirm=confirm, **options)
        agent.display_listeners.append(server.publish)
        agent.photo_listeners.append(server.photos.add)
        return server

    # --- feeding ---
    def publish(self, update: DisplayUpdate) -> None:
        """An update the agent accepted (HudState already applied latest-wins)."""
        now = time.monotonic()
        self._received[update.region] = now
        for client in self._clients:
            client.pending.pop(update.region, None)  # re-insert: keeps arrival order
            client.pending[update.region] = (update, now)
            client.wake.set()

    def snapshot(self) -> dict[str, Any]:
        """What the display shows now: HudState minus what its ttl has expired."""
        now = time.monotonic()
        updates = []
        for region, update in sorted(self.hud.regions.items()):
            age_ms = round((now - self._received.get(region, now)) * 1000)
            if update.ttl_ms and age_ms >= update.ttl_ms:
                continue
            updates.append(wire.envelope(update, age_ms))
        return {
            "device": self.device_id,
            "hud": {"width": HUD_WIDTH_PX, "height": HUD_HEIGHT_PX},
            "layout": layout_json(),
            "link": {"online": bool(self.link())},
            "updates": updates,
        }

    # --- HTTP ---
    def _make_app(self) -> Starlette:
        routes = [
            Route("/", self._index),
            Route("/events", self._events),
            Route("/state", self._state),
            Route("/photos/{photo_id}", self._photo),
            Route("/actions", self._action, methods=["POST"]),
            Mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static"),
        ]
        middleware = [Middleware(_SecurityHeaders), Middleware(TrustedHostMiddleware, allowed_hosts=self._allowed_hosts())]
        return Starlette(routes=routes, middleware=middleware)

    def _allowed_hosts(self) -> list[str]:
        # A Host check defeats DNS rebinding: a web page elsewhere cannot read the HUD
        # through a name that resolves to 127.0.0.1.
        if _is_wildcard(self.host):
            return ["*"]
        return sorted({*LOOPBACK_NAMES, self.host, f"[{self.host}]"})

    async def _index(self, request: Request) -> Response:
        return FileResponse(str(STATIC_DIR / "hud.html"), media_type="text/html; charset=utf-8")

    async def _state(self, request: Request) -> Response:
        state = self.snapshot()
        if self.stats is not None:
            state["display_queue"] = self.stats()
        return JSONResponse(state)

    async def _photo(self, request: Request) -> Response:
        photo_id = request.path_params["photo_id"]
        photo = self.photos.get(photo_id) if PHOTO_ID.fullmatch(photo_id) else None
        if photo is None:
            return Response("no such photo", status_code=404, media_type="text/plain")
        return Response(photo.data, media_type=photo.content_type)

    async def _action(self, request: Request) -> Response:
        """The wearer chose an action on the card shown: a Confirmation goes up."""
        try:
            action_id, card = await self._chosen(request)
        except _Refused as refused:
            log.info("card action refused", extra={"device_id": self.device_id, "status": refused.status, "reason": str(refused)})
            return JSONResponse({"error": str(refused)}, status_code=refused.status)
        assert self.confirm is not None  # _chosen refuses without it
        event_id = await self.confirm(Confirmation(reference_id=action_id, approved=True, challenge=card.challenge))
        log.info("card action chosen on the HUD page", extra={"device_id": self.device_id, "action_id": action_id, "event_id": event_id})
        return JSONResponse({"eventId": event_id, "referenceId": action_id}, status_code=202)

    async def _chosen(self, request: Request) -> tuple[str, Card]:
        """The action id asked for and the card it is on, or _Refused saying why not."""
        origin = request.headers.get("origin")
        if origin is not None and origin != f"{request.url.scheme}://{request.headers.get('host', '')}":
            raise _Refused(403, "actions come from this page only")
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            raise _Refused(415, "send the action as application/json")
        body = await request.body()
        if len(body) > MAX_ACTION_BODY:
            raise _Refused(413, "an action is an id, not a document")
        try:
            action_id = json.loads(body).get("actionId")
        except (ValueError, AttributeError):
            action_id = None
        if not isinstance(action_id, str) or not action_id:
            raise _Refused(400, 'the body must be {"actionId": "<id of an action on the card>"}')
        shown = self.hud.regions.get(HudRegion.HUD_REGION_CARD)
        card = shown.card if shown is not None and shown.WhichOneof("content") == "card" else None
        if card is not None and shown.ttl_ms:
            age_s = time.monotonic() - self._received.get(HudRegion.HUD_REGION_CARD, time.monotonic())
            if age_s * 1000 >= shown.ttl_ms:
                card = None  # expired: no longer on the display
        if card is None or action_id not in {action.action_id for action in card.actions}:
            raise _Refused(409, "no card shown now has that action")
        if card.kind in UNCLICKABLE_CARDS:
            raise _Refused(409, "a payment is confirmed with its own gesture, not from this page")
        if self.confirm is None:
            raise _Refused(503, "these glasses send no inputs from the page")
        return action_id, card

    async def _events(self, request: Request) -> Response:
        client = _Client()
        # Registered and snapshotted with no await between: no update can fall in the gap.
        self._clients.add(client)
        snapshot = self.snapshot()
        return StreamingResponse(
            self._stream(client, snapshot),
            media_type="text/event-stream",
            headers={"x-accel-buffering": "no"},
        )

    async def _stream(self, client: _Client, snapshot: dict[str, Any]) -> AsyncIterator[bytes]:
        try:
            yield wire.sse_retry(RECONNECT_MS)
            yield wire.sse("snapshot", snapshot)
            online = snapshot["link"]["online"]
            quiet_since = time.monotonic()
            while not self._closing.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(client.wake.wait(), LINK_POLL_S)
                client.wake.clear()
                pending, client.pending = client.pending, {}
                now = time.monotonic()
                for update, received in pending.values():
                    yield wire.sse("update", wire.envelope(update, round((now - received) * 1000)))
                link_changed = (link := bool(self.link())) != online
                if link_changed:
                    online = link
                    yield wire.sse("link", {"online": online})
                if pending or link_changed:
                    quiet_since = now
                elif now - quiet_since >= KEEPALIVE_S:
                    yield wire.KEEPALIVE  # idle streams get dropped by proxies
                    quiet_since = now
        finally:
            self._clients.discard(client)

    # --- lifecycle ---
    async def start(self, timeout_s: float = 10.0) -> HudServer:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError:
            sock.close()
            raise
        self.port = sock.getsockname()[1]
        self._closing.clear()
        config = uvicorn.Config(self.app, log_level="warning", lifespan="off", timeout_graceful_shutdown=2, access_log=False)
        self._server = _QuietServer(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name=f"hud-{self.device_id}")
        async with asyncio.timeout(timeout_s):
            while not self._server.started:
                if self._task.done():
                    self._task.result()  # raises what stopped it
                    raise RuntimeError("the HUD server stopped during start-up")
                await asyncio.sleep(0.01)
        log.debug("HUD page at %s", self.url, extra={"device_id": self.device_id})
        return self

    async def stop(self) -> None:
        self._closing.set()  # ends every open event stream
        for client in self._clients:
            client.wake.set()
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
        self._server = self._task = None

    async def __aenter__(self) -> HudServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        host = "127.0.0.1" if _is_wildcard(self.host) else self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}/"


class _Refused(Exception):
    def __init__(self, status: int, why: str) -> None:
        super().__init__(why)
        self.status = status


def _is_wildcard(host: str) -> bool:
    with contextlib.suppress(ValueError):
        return ipaddress.ip_address(host).is_unspecified
    return False

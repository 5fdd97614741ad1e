"""The notification ingress over HTTP (starlette, served by uvicorn on its own port).

    POST /v1/devices/{device_id}/notifications
    authorization: Bearer <key>
    {"title": "...", "body": "...", "priority": "low" | "normal" | "urgent", "dedup_key": "..."}
    -> 200 {"notification_id": "...", "delivery": "shown" | "held" | "duplicate"}

Errors are JSON {"error": <code>, "detail": <why>}: 401 no or an unknown key
(with WWW-Authenticate), 403 a device outside the key's scope, 404 no such
device, 413 the request or a field too large, 422 not the JSON above,
429 the source over its rate (with Retry-After), 503 the bus away.
GET /healthz answers 200 for load balancers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import socket
from collections.abc import Generator
from typing import Any

import uvicorn
from sightline.v1.assistant_pb2 import NotificationDelivery, NotificationPriority, PushNotificationRequest
from sightline_runtime.api_keys import ApiKeys, OutOfScope, Unauthenticated
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sightline_assistant.notifications import Deliver, NotificationRefused

log = logging.getLogger(__name__)

FIELDS = {"title", "body", "priority", "dedup_key"}
_STATUS = {
    NotificationRefused.INVALID: 422,
    NotificationRefused.TOO_LARGE: 413,
    NotificationRefused.UNKNOWN_DEVICE: 404,
    NotificationRefused.RATE_LIMITED: 429,
    NotificationRefused.UNAVAILABLE: 503,
}


def delivery_name(delivery: int) -> str:
    """ "shown", "held", "duplicate" (the enum's name without its prefix)."""
    return NotificationDelivery.Name(delivery).removeprefix("NOTIFICATION_DELIVERY_").lower()


def parse_priority(value: Any) -> int:
    """ "low", "normal", "urgent" (any case, or the enum's full name); absent = normal."""
    if value is None or value == "":
        return NotificationPriority.NOTIFICATION_PRIORITY_NORMAL
    if isinstance(value, str):
        name = value.strip().upper()
        name = name if name.startswith("NOTIFICATION_PRIORITY_") else f"NOTIFICATION_PRIORITY_{name}"
        if name in NotificationPriority.DESCRIPTOR.values_by_name and name != "NOTIFICATION_PRIORITY_UNSPECIFIED":
            return NotificationPriority.Value(name)
    raise ValueError(f"priority is low, normal or urgent, not {value!r}")


class BadRequest(Exception):
    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


def _error(status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": code, "detail": detail}, status_code=status, headers=headers)


async def _read_body(request: Request, max_bytes: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise BadRequest(413, "too_large", f"the request has {declared} bytes, at most {max_bytes} are accepted")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > max_bytes:
            # A sender that lies about (or omits) its length is stopped here.
            raise BadRequest(413, "too_large", f"the request is over {max_bytes} bytes")
    return bytes(body)


def parse_push(device_id: str, raw: bytes) -> PushNotificationRequest:
    """The request from the JSON body, or BadRequest (422) saying what is wrong."""
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequest(422, "malformed", f"the body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadRequest(422, "malformed", 'the body is a JSON object: {"title": ..., "body": ..., "priority": ..., "dedup_key": ...}')
    unknown = sorted(set(data) - FIELDS)
    if unknown:
        raise BadRequest(422, "invalid", f"unknown fields {unknown}: only {sorted(FIELDS)}")
    for name in ("title", "body", "dedup_key"):
        if data.get(name) is not None and not isinstance(data[name], str):
            raise BadRequest(422, "invalid", f"{name} is a string, not {type(data[name]).__name__}")
    try:
        priority = parse_priority(data.get("priority"))
    except ValueError as exc:
        raise BadRequest(422, "invalid", str(exc)) from None
    return PushNotificationRequest(
        device_id=device_id,
        title=data.get("title") or "",
        body=data.get("body") or "",
        priority=priority,
        dedup_key=data.get("dedup_key") or "",
    )


def notification_app(keys: ApiKeys, deliver: Deliver, *, max_request_bytes: int = 64 * 1024) -> Starlette:
    async def push(request: Request) -> JSONResponse:
        device_id = request.path_params["device_id"]
        try:
            grant = keys.authorize(request.headers.get("authorization"), device_id)
        except Unauthenticated as exc:
            log.info(
                "notification ingress: request from %s without a valid API key refused", request.client.host if request.client else "?"
            )
            return _error(401, "unauthenticated", str(exc), {"WWW-Authenticate": 'Bearer realm="sightline-notifications"'})
        except OutOfScope as exc:
            log.info("notification ingress: a key pushed outside its scope", extra={"device_id": device_id})
            return _error(403, "forbidden", str(exc))
        try:
            push_request = parse_push(device_id, await _read_body(request, max_request_bytes))
            reply = await deliver(device_id, grant.name, push_request)
        except BadRequest as exc:
            return _error(exc.status, exc.code, exc.detail)
        except NotificationRefused as exc:
            headers = {"Retry-After": str(math.ceil(exc.retry_after_s))} if exc.kind == NotificationRefused.RATE_LIMITED else None
            return _error(_STATUS[exc.kind], exc.kind, exc.message, headers)
        return JSONResponse({"notification_id": reply.notification_id, "delivery": delivery_name(reply.delivery)})

    async def healthz(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/v1/devices/{device_id}/notifications", push, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server inside a service's process: the service's own server
    handles SIGTERM and stops this one from a shutdown hook."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class HttpIngress:
    """The app served on its own port: `await HttpIngress.start(app, port=...)`, `await ingress.stop()`."""

    def __init__(self, server: uvicorn.Server, task: asyncio.Task[None], port: int) -> None:
        self._server = server
        self._task = task
        self.port = port

    @classmethod
    async def start(cls, app: Starlette, *, port: int, host: str = "0.0.0.0") -> HttpIngress:  # noqa: S104 - containers listen on all interfaces
        # Bound here, so a port in use is a clear OSError at start-up, not a log line of uvicorn's.
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            sock.close()
            raise OSError(f"cannot listen on {host}:{port} for the notification ingress: {exc}") from None
        config = uvicorn.Config(app, lifespan="off", log_config=None, access_log=False, timeout_graceful_shutdown=5)
        server = _EmbeddedServer(config)
        task = asyncio.create_task(server.serve(sockets=[sock]), name="notification-http-ingress")
        while not server.started:
            if task.done():
                sock.close()
                raise OSError(f"the notification ingress did not start on {host}:{port}") from task.exception()
            await asyncio.sleep(0.01)
        return cls(server, task, sock.getsockname()[1])

    async def stop(self) -> None:
        self._server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

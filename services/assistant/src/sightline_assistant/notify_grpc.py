"""The notification ingress over gRPC (grpc.aio): NotificationIngressService
with the standard health service (grpc.health.v1).

The same checks as over HTTP: no or an unknown key UNAUTHENTICATED, a
device outside the key's scope PERMISSION_DENIED, no such device NOT_FOUND,
bad or oversized fields INVALID_ARGUMENT, the source over its rate
RESOURCE_EXHAUSTED (the `retry-after` trailing metadata says when, in
seconds), the bus away UNAVAILABLE.
"""

from __future__ import annotations

import logging
import math
from typing import NoReturn

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from sightline.v1 import assistant_pb2, assistant_pb2_grpc
from sightline_runtime.api_keys import ApiKeys, OutOfScope, Unauthenticated, grpc_authorization

from sightline_assistant.notifications import Deliver, NotificationRefused

log = logging.getLogger(__name__)

SERVICE_NAME = assistant_pb2.DESCRIPTOR.services_by_name["NotificationIngressService"].full_name

_CODES = {
    NotificationRefused.INVALID: grpc.StatusCode.INVALID_ARGUMENT,
    NotificationRefused.TOO_LARGE: grpc.StatusCode.INVALID_ARGUMENT,
    NotificationRefused.UNKNOWN_DEVICE: grpc.StatusCode.NOT_FOUND,
    NotificationRefused.RATE_LIMITED: grpc.StatusCode.RESOURCE_EXHAUSTED,
    NotificationRefused.UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
}


async def _abort(context: grpc.aio.ServicerContext, code: grpc.StatusCode, details: str) -> NoReturn:
    await context.abort(code, details)
    raise AssertionError("unreachable: abort raises")


class NotificationIngressGrpc(assistant_pb2_grpc.NotificationIngressServiceServicer):
    def __init__(self, keys: ApiKeys, deliver: Deliver) -> None:
        self._keys = keys
        self._deliver = deliver

    async def PushNotification(
        self, request: assistant_pb2.PushNotificationRequest, context: grpc.aio.ServicerContext
    ) -> assistant_pb2.PushNotificationResponse:
        try:
            grant = self._keys.authorize(grpc_authorization(context.invocation_metadata()), request.device_id)
        except Unauthenticated as exc:
            log.info("notification gRPC: call from %s without a valid API key refused", context.peer())
            await _abort(context, grpc.StatusCode.UNAUTHENTICATED, f"{exc} (authorization: Bearer <key>)")
        except OutOfScope as exc:
            log.info("notification gRPC: a key pushed outside its scope", extra={"device_id": request.device_id})
            await _abort(context, grpc.StatusCode.PERMISSION_DENIED, str(exc))
        try:
            return await self._deliver(request.device_id, grant.name, request)
        except NotificationRefused as exc:
            if exc.kind == NotificationRefused.RATE_LIMITED:
                context.set_trailing_metadata((("retry-after", str(math.ceil(exc.retry_after_s))),))
            await _abort(context, _CODES[exc.kind], exc.message)


async def start_grpc(
    keys: ApiKeys,
    deliver: Deliver,
    *,
    port: int,
    host: str = "0.0.0.0",  # noqa: S104 - containers listen on all interfaces
) -> grpc.aio.Server:
    """A started server with NotificationIngressService and the health service
    (SERVING for "" and SERVICE_NAME); stop it with `await server.stop(grace)`.
    Port 0 picks a free one: the server's `bound_port` attribute says which."""
    server = grpc.aio.server()
    assistant_pb2_grpc.add_NotificationIngressServiceServicer_to_server(NotificationIngressGrpc(keys, deliver), server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    bound = server.add_insecure_port(f"{host}:{port}")
    if bound == 0:
        raise OSError(f"cannot listen on {host}:{port} for the notification ingress's gRPC service")
    await server.start()
    for name in ("", SERVICE_NAME):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    server.bound_port = bound  # type: ignore[attr-defined]
    return server

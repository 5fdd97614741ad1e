"""Both notification ingresses at once, as the service starts them:

    ingress = await NotificationIngress.start(config, keys, intake.deliver)
    resources.on_shutdown(ingress.stop)

A port of 0 in the config leaves that ingress off; `listen_any_port=True`
(tests) picks free ports instead, read back from `http_port` / `grpc_port`.
"""

from __future__ import annotations

from dataclasses import dataclass

import grpc
from sightline_runtime.api_keys import ApiKeys

from sightline_assistant.notifications import Deliver, NotificationConfig
from sightline_assistant.notify_grpc import start_grpc
from sightline_assistant.notify_http import HttpIngress, notification_app


@dataclass
class NotificationIngress:
    http: HttpIngress | None
    grpc_server: grpc.aio.Server | None

    @property
    def http_port(self) -> int:
        return self.http.port if self.http is not None else 0

    @property
    def grpc_port(self) -> int:
        return getattr(self.grpc_server, "bound_port", 0) if self.grpc_server is not None else 0

    @classmethod
    async def start(
        cls, config: NotificationConfig, keys: ApiKeys, deliver: Deliver, *, listen_any_port: bool = False
    ) -> NotificationIngress:
        http: HttpIngress | None = None
        server: grpc.aio.Server | None = None
        if config.http_port or listen_any_port:
            app = notification_app(keys, deliver, max_request_bytes=config.max_request_bytes)
            http = await HttpIngress.start(app, port=config.http_port, host=config.host)
        if config.grpc_port or listen_any_port:
            try:
                server = await start_grpc(keys, deliver, port=config.grpc_port, host=config.host)
            except OSError:
                if http is not None:
                    await http.stop()
                raise
        return cls(http, server)

    async def stop(self) -> None:
        """Stop taking pushes; the calls in progress finish (briefly)."""
        if self.grpc_server is not None:
            await self.grpc_server.stop(2.0)
        if self.http is not None:
            await self.http.stop()

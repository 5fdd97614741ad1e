"""The standard gRPC health service (grpc.health.v1), for Kubernetes `grpc:`
probes and meshes; it mirrors /readyz."""

from __future__ import annotations

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc


class GrpcHealthServer:
    def __init__(self, service: str, port: int, host: str = "0.0.0.0") -> None:  # noqa: S104
        self.service = service
        self.address = f"{host}:{port}"
        self.servicer = health.aio.HealthServicer()
        self.server: grpc.aio.Server | None = None

    async def start(self) -> None:
        self.server = grpc.aio.server()
        health_pb2_grpc.add_HealthServicer_to_server(self.servicer, self.server)
        self.server.add_insecure_port(self.address)
        await self.server.start()
        await self.set_serving(False)

    async def set_serving(self, serving: bool) -> None:
        status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in ("", self.service):  # "" is the whole server, as probes ask by default
            await self.servicer.set(name, status)

    async def stop(self, grace_s: float = 1.0) -> None:
        if self.server is not None:
            await self.set_serving(False)
            await self.server.stop(grace_s)
            self.server = None

"""HTTP endpoints of every service: /healthz (alive), /readyz (ready to
handle events: broker connected, registry mirrored, models loaded) and
/metrics (Prometheus). Served by faststream's ASGI app under uvicorn."""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from collections.abc import Awaitable, Callable

from faststream.asgi import AsgiResponse, get
from faststream.asgi.types import ASGIApp
from prometheus_client import CollectorRegistry, make_asgi_app

log = logging.getLogger(__name__)

Check = Callable[[], bool | Awaitable[bool]]


class Readiness:
    """Named checks; the service is ready when all pass and it is not draining."""

    def __init__(self) -> None:
        self.checks: dict[str, Check] = {}
        self.draining = False

    def add(self, name: str, check: Check) -> None:
        self.checks[name] = check

    async def evaluate(self, timeout_s: float = 2.0) -> dict[str, bool]:
        results = {"not_draining": not self.draining}
        for name, check in self.checks.items():
            try:
                value = check()
                if inspect.isawaitable(value):
                    value = await asyncio.wait_for(value, timeout_s)
                results[name] = bool(value)
            except Exception:
                log.warning("readiness check failed", exc_info=True, extra={"check": name})
                results[name] = False
        return results


def _json(status: int, payload: dict[str, object]) -> AsgiResponse:
    return AsgiResponse(json.dumps(payload).encode(), status, headers={"content-type": "application/json"})


def health_routes(service: str, readiness: Readiness, registry: CollectorRegistry) -> list[tuple[str, ASGIApp]]:
    @get(include_in_schema=False)
    async def healthz(scope: object) -> AsgiResponse:
        return _json(200, {"status": "alive", "service": service})

    @get(include_in_schema=False)
    async def readyz(scope: object) -> AsgiResponse:
        checks = await readiness.evaluate()
        ready = all(checks.values())
        return _json(200 if ready else 503, {"status": "ready" if ready else "not ready", "service": service, "checks": checks})

    return [("/healthz", healthz), ("/readyz", readyz), ("/metrics", make_asgi_app(registry))]

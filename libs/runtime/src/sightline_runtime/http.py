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
        # What works only in part, without making the service unready (e.g. a
        # consumer waiting for a stream its owner has not created yet).
        self.degraded: dict[str, Callable[[], list[str]]] = {}
        self.draining = False

    def add(self, name: str, check: Check) -> None:
        self.checks[name] = check

    def add_degraded(self, name: str, report: Callable[[], list[str]]) -> None:
        self.degraded[name] = report

    def degradations(self) -> dict[str, list[str]]:
        return {name: found for name, report in self.degraded.items() if (found := report())}

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
        payload: dict[str, object] = {"status": "ready" if ready else "not ready", "service": service, "checks": checks}
        if degraded := readiness.degradations():
            payload["degraded"] = degraded
        return _json(200 if ready else 503, payload)

    return [("/healthz", healthz), ("/readyz", readyz), ("/metrics", make_asgi_app(registry))]

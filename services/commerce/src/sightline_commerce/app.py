"""Wiring of the commerce service (the only place that touches the broker).

It starts, declares its stream, reports health and exports metrics; its
handlers arrive with the issue that builds the commerce capability.
"""

from __future__ import annotations

from typing import Any

from sightline_runtime.service import Resources, Service

from sightline_commerce.bus import SURFACE
from sightline_commerce.settings import CommerceSettings


class CommerceHandlers:
    """Nothing subscribed yet (SURFACE declares no subscriptions)."""


def create_service(settings: CommerceSettings | None = None, **service_options: Any) -> Service:
    async def build(resources: Resources) -> CommerceHandlers:
        return CommerceHandlers()

    return Service(SURFACE, settings or CommerceSettings(), build, **service_options)


def main() -> None:
    create_service().run()

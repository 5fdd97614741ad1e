"""Wiring of the payments service (the only place that touches the broker).

It starts, declares its stream, reports health and exports metrics; its
handlers arrive with the issue that builds the payments capability.
"""

from __future__ import annotations

from typing import Any

from sightline_runtime.service import Resources, Service

from sightline_payments.bus import SURFACE
from sightline_payments.settings import PaymentsSettings


class PaymentsHandlers:
    """Nothing subscribed yet (SURFACE declares no subscriptions)."""


def create_service(settings: PaymentsSettings | None = None, **service_options: Any) -> Service:
    async def build(resources: Resources) -> PaymentsHandlers:
        return PaymentsHandlers()

    return Service(SURFACE, settings or PaymentsSettings(), build, **service_options)


def main() -> None:
    create_service().run()

"""Wiring of the payments service (the only place that touches the broker).

It starts, declares its stream, reports health and exports metrics; its
handlers arrive with the issue that builds the payments capability.
"""

from __future__ import annotations

from typing import Any

from sightline_runtime.service import Service
from sightline_runtime.streams import PAYMENTS

from sightline_payments.settings import PaymentsSettings

SERVICE = "payments"


def create_service(settings: PaymentsSettings | None = None, **service_options: Any) -> Service:
    return Service(SERVICE, settings or PaymentsSettings(), streams=[PAYMENTS], **service_options)


def main() -> None:
    create_service().run()

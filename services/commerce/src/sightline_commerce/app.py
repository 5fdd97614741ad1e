"""Wiring of the commerce service (the only place that touches the broker).

It starts, declares its stream, reports health and exports metrics; its
handlers arrive with the issue that builds the commerce capability.
"""

from __future__ import annotations

from typing import Any

from sightline_runtime.service import Service
from sightline_runtime.streams import COMMERCE

from sightline_commerce.settings import CommerceSettings

SERVICE = "commerce"


def create_service(settings: CommerceSettings | None = None, **service_options: Any) -> Service:
    return Service(SERVICE, settings or CommerceSettings(), streams=[COMMERCE], **service_options)


def main() -> None:
    create_service().run()

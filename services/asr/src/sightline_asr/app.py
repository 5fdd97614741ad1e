"""Wiring of the asr service (the only place that touches the broker).

It starts, declares its stream, reports health and exports metrics; its
handlers arrive with the issue that builds the asr capability.
"""

from __future__ import annotations

from typing import Any

from sightline_runtime.service import Service
from sightline_runtime.streams import ASR

from sightline_asr.settings import AsrSettings

SERVICE = "asr"


def create_service(settings: AsrSettings | None = None, **service_options: Any) -> Service:
    return Service(SERVICE, settings or AsrSettings(), streams=[ASR], **service_options)


def main() -> None:
    create_service().run()

"""Wiring of the translation service (the only place that touches the broker).

It starts, declares its stream, reports health and exports metrics; its
handlers arrive with the issue that builds the translation capability.
"""

from __future__ import annotations

from typing import Any

from sightline_runtime.service import Service
from sightline_runtime.streams import TRANSLATION

from sightline_translation.settings import TranslationSettings

SERVICE = "translation"


def create_service(settings: TranslationSettings | None = None, **service_options: Any) -> Service:
    return Service(SERVICE, settings or TranslationSettings(), streams=[TRANSLATION], **service_options)


def main() -> None:
    create_service().run()

"""Wiring of the translation service (the only place that touches the broker)."""

from __future__ import annotations

import asyncio
from typing import Any

from prometheus_client import CollectorRegistry
from sightline_runtime.service import Resources, Service

from sightline_translation.bus import SURFACE
from sightline_translation.glossary import Glossary
from sightline_translation.handlers import TranslationHandlers
from sightline_translation.metrics import TranslationMetrics
from sightline_translation.routing import build_router
from sightline_translation.settings import TranslationSettings
from sightline_translation.translator import Translator


def create_service(settings: TranslationSettings | None = None, **service_options: Any) -> Service:
    settings = settings or TranslationSettings()
    # Routes and settings are checked now: a bad configuration fails before connecting.
    build_router(settings, TranslationMetrics(CollectorRegistry()))

    async def build(resources: Resources) -> TranslationHandlers:
        metrics = TranslationMetrics(resources.metrics.registry)
        router = build_router(settings, metrics)
        assert resources.js is not None, "translation reads glossaries from JetStream"
        glossary = Glossary(resources.js, replicas=settings.stream_replicas)
        await asyncio.gather(router.start(), glossary.start())
        handlers = TranslationHandlers(
            resources.publisher, settings, Translator(router, metrics, glossary), metrics, lookup_device=resources.devices.lookup
        )

        async def stop() -> None:
            await handlers.close()
            await router.close()
            await glossary.stop()

        resources.on_shutdown(stop)
        resources.readiness.add("engines", router.ready)
        resources.readiness.add("glossary", lambda: glossary.synced)
        return handlers

    return Service(SURFACE, settings, build, **service_options)


def main() -> None:
    create_service().run()

"""Wiring of the asr service (the only place that touches the broker)."""

from __future__ import annotations

from typing import Any

from sightline_runtime.service import Resources, Service

from sightline_asr.bus import SURFACE
from sightline_asr.engines.runner import EngineRunner
from sightline_asr.handlers import AsrHandlers
from sightline_asr.metrics import AsrMetrics
from sightline_asr.settings import AsrSettings


def create_service(settings: AsrSettings | None = None, **service_options: Any) -> Service:
    settings = settings or AsrSettings()

    async def build(resources: Resources) -> AsrHandlers:
        metrics = AsrMetrics(resources.metrics.registry)
        runner = EngineRunner(settings.asr_engine, threads=settings.asr_engine_threads)
        handlers = AsrHandlers(resources.publisher, settings, runner, metrics)
        # Models load before the first frame is subscribed: ready means ready.
        await handlers.start()
        resources.on_shutdown(handlers.stop)
        resources.on_privacy_change(handlers.on_privacy_change)
        return handlers

    return Service(SURFACE, settings, build, **service_options)


def main() -> None:
    create_service().run()

"""Wiring of the translation service (the only place that touches the broker)."""

from __future__ import annotations

import asyncio
from typing import Any

from faststream.nats import NatsResponse
from faststream.nats.annotations import NatsMessage
from sightline.v1.asr_pb2 import Transcript
from sightline_runtime import subjects
from sightline_runtime.consumer import HandlerSpec
from sightline_runtime.service import Service
from sightline_runtime.streams import ASR, TRANSLATION, TRANSLATION_FINALS

from sightline_translation.glossary import Glossary
from sightline_translation.handlers import SERVICE, TranslationHandlers
from sightline_translation.metrics import TranslationMetrics
from sightline_translation.routing import build_router
from sightline_translation.rpc import RPC_SUBJECT
from sightline_translation.settings import TranslationSettings
from sightline_translation.translator import Translator


def create_service(settings: TranslationSettings | None = None, **service_options: Any) -> Service:
    settings = settings or TranslationSettings()
    service = Service(SERVICE, settings, streams=[ASR, TRANSLATION], **service_options)
    metrics = TranslationMetrics(service.metrics.registry)
    # Routes and settings are checked now: a bad configuration fails before connecting.
    router = build_router(settings, metrics)
    translator = Translator(router, metrics)

    async def lookup_device(device_id: str):
        # Looked up per call: at start-up the guard's directory becomes the registry mirror.
        return await service.guard.directory.lookup(device_id)

    handlers = TranslationHandlers(service.publisher, settings, translator, metrics, lookup_device=lookup_device)

    # Partials: core NATS in the service's queue group; cheap, latest wins.
    service.subscribe(HandlerSpec("asr_partial", Transcript, subject=subjects.domain_all("asr", "partial")), handlers.on_partial)
    service.subscribe(HandlerSpec("asr_final", Transcript, consumer=TRANSLATION_FINALS), handlers.on_final)

    @service.broker.subscriber(RPC_SUBJECT, queue=SERVICE, title=f"{SERVICE}.rpc_translate")
    async def translate_rpc(msg: NatsMessage) -> NatsResponse:
        """TranslationService.Translate: TranslateRequest -> TranslateResponse."""
        body = msg.body if isinstance(msg.body, bytes) else bytes(msg.body)
        response, headers = await handlers.translate_request(body)
        return NatsResponse(response.SerializeToString(), headers=headers)

    async def start() -> None:
        translator.glossary = Glossary(service.broker.connection.jetstream(), replicas=settings.stream_replicas)
        await asyncio.gather(router.start(), translator.glossary.start())

    async def stop() -> None:
        await handlers.close()
        await router.close()
        if translator.glossary is not None:
            await translator.glossary.stop()

    service.on_startup(start)
    service.on_shutdown(stop)
    service.readiness.add("engines", router.ready)
    service.readiness.add("glossary", lambda: translator.glossary is not None and translator.glossary.synced)
    return service


def main() -> None:
    create_service().run()

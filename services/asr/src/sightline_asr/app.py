"""Wiring of the asr service (the only place that touches the broker)."""

from __future__ import annotations

import re
from typing import Any

from sightline.v1.audio_pb2 import AudioFrame
from sightline_runtime import partitions, subjects
from sightline_runtime.consumer import HandlerSpec
from sightline_runtime.privacy import Sensor
from sightline_runtime.service import Service
from sightline_runtime.streams import ASR

from sightline_asr.engines.runner import EngineRunner
from sightline_asr.handlers import SERVICE, AsrHandlers
from sightline_asr.metrics import AsrMetrics
from sightline_asr.settings import AsrSettings


def replica_index(settings: AsrSettings, instance: str) -> int:
    """SIGHTLINE_ASR_REPLICA, else the ordinal of a StatefulSet pod name (asr-2)."""
    if settings.asr_replica is not None:
        return settings.asr_replica
    if settings.asr_replicas == 1:
        return 0
    match = re.search(r"-(\d+)$", instance)
    if match is None:
        raise ValueError(
            f"{settings.asr_replicas} asr replicas but no SIGHTLINE_ASR_REPLICA, and the instance name {instance!r} has no ordinal"
        )
    return int(match.group(1))


def audio_subjects(settings: AsrSettings, instance: str) -> list[str]:
    """What this replica consumes: its partitions of the mapped audio subject.
    A single replica also takes the unmapped subject, so it works against a
    nats-server without the partition mapping too (nothing arrives there when
    the mapping is configured)."""
    owned = partitions.owned_partitions(replica_index(settings, instance), settings.asr_replicas)
    if settings.asr_replicas == 1:
        return [subjects.UP_AUDIO_ALL, f"{subjects.UP_AUDIO_ALL}.*"]
    return [partitions.audio_partition_subject(p) for p in owned]


def create_service(settings: AsrSettings | None = None, **service_options: Any) -> Service:
    settings = settings or AsrSettings()
    service = Service(SERVICE, settings, streams=[ASR], **service_options)
    metrics = AsrMetrics(service.metrics.registry)
    runner = EngineRunner(settings.asr_engine, threads=settings.asr_engine_threads)
    handlers = AsrHandlers(service.publisher, settings, runner, metrics)
    for subject in audio_subjects(settings, service.instance):
        # Raw audio is never persisted, not even in a dead letter: refusals keep its size and hash only.
        # Microphone data: the guard drops it while the device's privacy mode is on.
        spec = HandlerSpec("audio_frame", AudioFrame, subject=subject, keep_payload_in_dead_letter=False, sensor=Sensor.MICROPHONE)
        service.subscribe(spec, handlers.on_audio_frame)
    service.on_privacy_change(handlers.on_privacy_change)
    service.on_startup(handlers.start)
    service.on_shutdown(handlers.stop)
    service.readiness.add("models", lambda: handlers.ready)
    return service


def main() -> None:
    create_service().run()

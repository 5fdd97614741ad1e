"""The asr service's bus surface: audio in, transcripts out."""

from __future__ import annotations

import re

from sightline.v1.asr_pb2 import Transcript
from sightline.v1.audio_pb2 import AudioFrame
from sightline_runtime import partitions, subjects
from sightline_runtime.admission import AUDIO_FRAMES
from sightline_runtime.consumer import HandlerSpec
from sightline_runtime.privacy import Sensor
from sightline_runtime.streams import DAY, StreamSpec
from sightline_runtime.surface import BusSurface, OwnedStream, Publish, Subscribe

SERVICE = "asr"

ASR = StreamSpec(
    name="ASR",
    subjects=(subjects.domain_all("asr", "final"),),
    description="Final transcripts (partials are core NATS only)",
    max_age_s=DAY,
)


def replica_index(settings, instance: str) -> int:
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


def audio_subjects(settings, instance: str) -> list[str]:
    """What this replica consumes: its partitions of the mapped audio subject.
    A single replica also takes the unmapped subject, so it works against a
    nats-server without the partition mapping too (nothing arrives there when
    the mapping is configured)."""
    owned = partitions.owned_partitions(replica_index(settings, instance), settings.asr_replicas)
    if settings.asr_replicas == 1:
        return [subjects.UP_AUDIO_ALL, f"{subjects.UP_AUDIO_ALL}.*"]
    return [partitions.audio_partition_subject(p) for p in owned]


SURFACE = BusSurface(
    service=SERVICE,
    description="streaming speech recognition: partial and final transcripts per device",
    subscribes=(
        Subscribe(
            # Raw audio is never persisted, not even in a dead letter: refusals keep its size and hash only.
            # Microphone data: the guard drops it while the device's privacy mode is on.
            # A device past 2x real time is dropped before decoding, for that device alone (docs/admission.md).
            HandlerSpec(
                "audio_frame",
                AudioFrame,
                subject=subjects.UP_AUDIO_ALL,
                keep_payload_in_dead_letter=False,
                sensor=Sensor.MICROPHONE,
                admission=AUDIO_FRAMES,
            ),
            "on_audio_frame",
            # Frames of one device reach one replica: each takes its partitions.
            subjects=(subjects.UP_AUDIO_ALL, f"{subjects.UP_AUDIO_ALL}.*"),
            partitions=audio_subjects,
        ),
    ),
    publishes=(
        Publish(subjects.domain_all("asr", "partial"), Transcript, description="partial transcripts, latest wins"),
        Publish(subjects.domain_all("asr", "final"), Transcript, ASR, description="the one final transcript of each utterance"),
    ),
    # Transcripts are kept as long as the deployment's transcript retention says.
    streams=(OwnedStream(ASR, retention_s=lambda settings: settings.transcript_retention_hours * 3600.0),),
)

"""Deterministic partitioning of the audio up-link: the one place that
says how many partitions there are and how NATS maps a device onto one.

Streaming ASR keeps per-device state, so every frame of a device must reach
the same replica. The hub's nats-server rewrites each message published on
`glasses.<device>.up.audio` (by a client or arriving over a leaf node) to
`glasses.<device>.up.audio.<p>`, where p = FNV-1a-32(<device>) mod
AUDIO_PARTITIONS (the server's `{{partition(n,1)}}`). ASR replica i of r
subscribes to the partitions p with p % r == i, so the replica count can
change (up to AUDIO_PARTITIONS) without touching the server config.

Permissions: nats-server checks a client's publish permission on the subject
*after* mapping (verified on 2.15.1), so a device's user must be allowed to
publish `glasses.<device>.up.audio.*` (or exactly its own partition,
`glasses.<device>.up.audio.<partition_of(device)>`), not only the unmapped
subject.
"""

from __future__ import annotations

from sightline_runtime.subjects import check_device_id

# Fixed for the life of a deployment: changing it moves devices between
# replicas (an in-progress utterance is lost, like a replica restart).
AUDIO_PARTITIONS = 8

AUDIO_SOURCE = "glasses.*.up.audio"


def audio_destination(partitions: int = AUDIO_PARTITIONS) -> str:
    return f"glasses.{{{{wildcard(1)}}}}.up.audio.{{{{partition({partitions},1)}}}}"


def nats_mappings(partitions: int = AUDIO_PARTITIONS) -> dict[str, str]:
    """The `mappings` block of the hub's nats-server config (default account)."""
    return {AUDIO_SOURCE: audio_destination(partitions)}


def partition_of(device_id: str, partitions: int = AUDIO_PARTITIONS) -> int:
    """The partition nats-server picks for a device: FNV-1a 32-bit of the
    device token, modulo the partition count."""
    value = 0x811C9DC5
    for byte in check_device_id(device_id).encode():
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return value % partitions


def audio_partition_subject(partition: int, partitions: int = AUDIO_PARTITIONS) -> str:
    if not 0 <= partition < partitions:
        raise ValueError(f"partition {partition} is outside 0..{partitions - 1}")
    return f"glasses.*.up.audio.{partition}"


def owned_partitions(replica: int, replicas: int, partitions: int = AUDIO_PARTITIONS) -> list[int]:
    """The partitions replica `replica` of `replicas` consumes."""
    if not 1 <= replicas <= partitions:
        raise ValueError(f"replica count {replicas} must be between 1 and {partitions} (the partition count)")
    if not 0 <= replica < replicas:
        raise ValueError(f"replica index {replica} must be between 0 and {replicas - 1}")
    return [p for p in range(partitions) if p % replicas == replica]

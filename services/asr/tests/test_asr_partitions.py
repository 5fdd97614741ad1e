"""Which audio subjects an asr replica consumes (the runtime's partition
scheme; the server side is checked against a real nats-server in
tests/speech/test_scaling.py)."""

from __future__ import annotations

import pytest
from sightline_asr.bus import audio_subjects, replica_index
from sightline_asr.settings import AsrSettings
from sightline_runtime import partitions


def test_every_partition_is_owned_by_exactly_one_replica_for_any_replica_count():
    for replicas in range(1, partitions.AUDIO_PARTITIONS + 1):
        owned = [p for i in range(replicas) for p in partitions.owned_partitions(i, replicas)]
        assert sorted(owned) == list(range(partitions.AUDIO_PARTITIONS))


def test_the_mapping_and_the_subjects_agree():
    assert partitions.nats_mappings() == {"glasses.*.up.audio": "glasses.{{wildcard(1)}}.up.audio.{{partition(8,1)}}"}
    assert partitions.audio_partition_subject(3) == "glasses.*.up.audio.3"
    with pytest.raises(ValueError, match="outside"):
        partitions.audio_partition_subject(8)
    with pytest.raises(ValueError, match="between 1 and 8"):
        partitions.owned_partitions(0, 9)


def test_a_replica_takes_its_index_from_the_setting_or_its_pod_ordinal():
    assert replica_index(AsrSettings(asr_replicas=4, asr_replica=2), "whatever") == 2
    assert replica_index(AsrSettings(asr_replicas=4), "asr-3") == 3
    assert replica_index(AsrSettings(), "laptop") == 0
    with pytest.raises(ValueError, match="no SIGHTLINE_ASR_REPLICA"):
        replica_index(AsrSettings(asr_replicas=2), "laptop")


def test_subjects_per_replica():
    # One replica also listens on the unmapped subject: it works without the server mapping.
    assert audio_subjects(AsrSettings(), "asr-0") == ["glasses.*.up.audio", "glasses.*.up.audio.*"]
    assert audio_subjects(AsrSettings(asr_replicas=2), "asr-1") == [f"glasses.*.up.audio.{p}" for p in (1, 3, 5, 7)]
    with pytest.raises(ValueError, match="replica index 2"):
        audio_subjects(AsrSettings(asr_replicas=2, asr_replica=2), "x")

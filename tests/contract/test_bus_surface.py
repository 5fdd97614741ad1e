"""The bus declarations: every service has one, they hold together, and the
docs page generated from them is the one committed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sightline.v1.input_pb2 import DeviceInput
from sightline_cli.stack import SERVICES
from sightline_runtime import subjects
from sightline_runtime.consumer import HandlerSpec
from sightline_runtime.streams import ConsumerSpec, StreamSpec
from sightline_runtime.surface import BusSurface, OwnedStream, Publish, Serve, Subscribe, load_surface, load_surfaces
from sightline_runtime.surface_docs import render

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = ROOT / "libs" / "runtime" / "src" / "sightline_runtime"


def test_the_bus_page_is_generated_from_the_declarations():
    committed = (ROOT / "docs" / "bus.md").read_text()
    assert committed == render(load_surfaces(SERVICES)), "docs/bus.md drifted: run `sightline bus table --write docs/bus.md`"


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_declares_its_surface_in_its_own_package(service):
    surface = load_surface(service)
    assert surface.service == service
    for sub in surface.subscribes:
        if sub.spec.consumer is not None:
            assert sub.spec.consumer.durable.startswith(f"{service}-")
    for owned in surface.streams:
        # What a service owns lands only on subjects it declares it publishes.
        assert all(any(subjects.subject_matches(p.subject, s) for p in surface.publishes) for s in owned.stream.subjects)


def test_nothing_in_the_runtime_names_a_service():
    named = []
    for path in RUNTIME.glob("*.py"):
        # The chat-completions role "assistant" is the OpenAI API's word, not the service.
        text = re.sub(r'"role":\s*"assistant"', "", path.read_text())
        for service in SERVICES:
            for needle in (f'"{service}"', f"'{service}'", f'"{service}-', f"sightline_{service}"):
                if needle in text:
                    named.append(f"{path.name}: {needle}")
    assert named == []


def _input(name="text", durable="svc-inputs", **spec):
    return Subscribe(HandlerSpec(name, DeviceInput, consumer=ConsumerSpec(durable, subjects.UP_INPUT_ALL), **spec), "on_text")


OWN = StreamSpec(name="OWN", subjects=("own.thing.*",), description="")


@pytest.mark.parametrize(
    ("surface", "complaint"),
    [
        (dict(subscribes=(_input(durable="other-inputs"),)), "must start with 'svc-'"),
        (dict(subscribes=(_input(), _input())), "handler names repeat"),
        (dict(subscribes=(Subscribe(HandlerSpec("x", DeviceInput, subject="a.b.*", dedup=True), "on_x"),)), "dedup=True needs a durable"),
        (dict(publishes=(Publish("elsewhere.thing.*", DeviceInput, OWN),)), "is not a subject of stream OWN"),
        (dict(streams=(OwnedStream(OWN),)), "declares no publish to own.thing.*"),
        (dict(serves=(Serve("svc.rpc.count", DeviceInput, DeviceInput, "count", per_device=True),)), "must be subjects.device_request_all"),
        (dict(serves=(Serve("glasses.a.rpc.svc.count", DeviceInput, DeviceInput, "count", per_device=True),)), "device_request_all"),
    ],
)
def test_a_declaration_that_cannot_be_true_fails_at_import(surface, complaint):
    with pytest.raises(ValueError, match=complaint):
        BusSurface(service="svc", description="", **surface)


def test_partitioned_subscriptions_stay_inside_what_is_declared():
    sub = Subscribe(
        HandlerSpec("audio", DeviceInput, subject=subjects.UP_AUDIO_ALL),
        "on_audio",
        subjects=(f"{subjects.UP_AUDIO_ALL}.*",),
        partitions=lambda settings, instance: ["glasses.*.up.video.1"],
    )
    with pytest.raises(ValueError, match="outside the declared"):
        sub.replica_subjects(None, "svc-0")


@pytest.mark.parametrize(
    ("subject", "pattern", "matches"),
    [
        ("asr.final.a", "asr.final.*", True),
        ("asr.final.*", "asr.final.*", True),
        ("asr.final.*", "asr.>", True),
        ("asr.final.*", "asr.final.a", False),
        ("asr.>", "asr.*", False),
        ("asr", "asr.>", False),
        ("glasses.a.up.audio.3", "glasses.*.up.audio.*", True),
        ("glasses.a.up.audio", "glasses.*.up.audio.*", False),
    ],
)
def test_subject_containment(subject, pattern, matches):
    assert subjects.subject_matches(subject, pattern) is matches

"""Issue 8, never silent loss: when no asr replica serves a device's audio
(none running, killed, or its partition's replica gone), the device's
caption region says "Captions unavailable" within 2 s, and captions resume
by themselves when asr is back. Real nats-server with the audio partition
mapping, the real overlay with its presence tracker, real asr replicas (one
in a process of its own, killed with SIGKILL), speech from espeak-ng."""

from __future__ import annotations

import asyncio
import statistics
import time

import pytest
import pytest_asyncio
from sightline.v1.input_pb2 import DeviceInput, VoiceIntent
from sightline_asr.app import create_service as create_asr
from sightline_cli.stack import SERVICES
from sightline_runtime.events import event_headers, new_meta
from sightline_runtime.streams import GLASSES_UP, ensure_streams
from sightline_runtime.surface import deployment_streams, load_surfaces

from tests.speech.availability import (
    AsrProcess,
    Hud,
    audio_subject,
    device_in_partition,
    finals_of,
    has_notice,
    overlay_service,
    speak,
    words_heard,
)
from tests.speech.conftest import asr_settings, running

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]

# What the overlay promises (issue 8): the notice within 2 s of asr going away.
NOTICE_WITHIN_S = 2.0
# One espeak-ng sentence through streaming Moonshine (about 0.1 on average, a
# sentence now and then far worse): enough to tell it is this speech, captioned.
MAX_WER = 0.5
LATENCIES: dict[str, list[float]] = {"killed": [], "stopped": [], "back": []}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def overlay(hub, hub_client):
    # The streams exist as in a deployment where each owner started once.
    await ensure_streams(hub_client.jetstream(), deployment_streams(load_surfaces(SERVICES)))
    async with running(overlay_service(hub.url)) as service:
        yield service


def _not_notice(update) -> bool:
    return not has_notice(update)


async def _voice_input(hub_client, device: str, text: str) -> None:
    event = DeviceInput(meta=new_meta(device, "glasses"), voice_intent=VoiceIntent(transcript=text))
    await hub_client.jetstream().publish(
        f"glasses.{device}.up.input", event.SerializeToString(), headers=event_headers(event), stream=GLASSES_UP.name
    )


async def _caption_of(hud: Hud, expected: str, after: float, timeout_s: float = 20.0) -> str:
    """The final caption of the utterance spoken after `after` (not one shown before)."""
    before = {e.utterance_id for at, u in hud.updates if at < after for e in u.caption.entries}

    def new_final(update) -> bool:
        entries = update.caption.entries
        return bool(entries) and entries[-1].is_final and entries[-1].utterance_id not in before and not has_notice(update)

    _, update = await hud.wait(new_final, after=after, timeout_s=timeout_s)
    shown = finals_of(update)[-1]
    assert words_heard(expected, shown) <= MAX_WER, (expected, shown)
    return shown


async def test_killed_asr_says_captions_unavailable_within_2s_and_captions_resume_when_it_is_back(
    overlay, hub, hub_client, devices, corpus, tmp_path
):
    device = "kilo"
    await devices.add(device)
    tracker = overlay.handlers.presence
    hud = await Hud(device).start(hub_client)
    process = AsrProcess(hub.url, tmp_path / "asr.log")
    try:
        assert await tracker.wait_serving(audio_subject(device), service="asr", timeout_s=120), process.output()
        # Speaking makes the device recently active (and shows it captions work).
        started = time.monotonic()
        await speak(hub_client, device, corpus[0].pcm)
        await _caption_of(hud, corpus[0].text, started)

        killed_at = time.monotonic()
        process.kill()
        told_at, update = await hud.wait(has_notice, after=killed_at, timeout_s=5)
        LATENCIES["killed"].append(told_at - killed_at)
        assert told_at - killed_at <= NOTICE_WITHIN_S, f"told {told_at - killed_at:.2f} s after the kill"
        assert update.ttl_ms == 0, "the notice stays as long as its cause"
        notice = update.caption.entries[-1]
        assert list(notice.source.lines) == ["Captions unavailable"]
        assert finals_of(update), "the caption just shown stays above the notice"
    finally:
        process.kill()

    # asr is back (a fresh replica): the notice goes by itself, then speech is captioned again.
    async with running(create_asr(asr_settings(hub.url))):
        back_at = time.monotonic()
        cleared_at, cleared = await hud.wait(_not_notice, after=killed_at + 0.001, timeout_s=5)
        LATENCIES["back"].append(cleared_at - back_at)
        assert cleared_at - back_at <= NOTICE_WITHIN_S
        assert not has_notice(cleared)
        spoken_at = time.monotonic()
        await speak(hub_client, device, corpus[1].pcm)
        await _caption_of(hud, corpus[1].text, spoken_at)
        assert not any(has_notice(u) for u in hud.since(spoken_at))
    await hud.stop()


async def test_a_stopped_asr_is_noticed_at_once_and_a_device_first_seen_meanwhile_is_told(overlay, hub, hub_client, devices, corpus):
    talker, newcomer = "lima", "mike"
    for device in (talker, newcomer):
        await devices.add(device)
    huds = {d: await Hud(d).start(hub_client) for d in (talker, newcomer)}
    async with running(create_asr(asr_settings(hub.url))):
        assert await overlay.handlers.presence.wait_serving(audio_subject(talker), service="asr", timeout_s=10)
        started = time.monotonic()
        await speak(hub_client, talker, corpus[2].pcm)
        await _caption_of(huds[talker], corpus[2].text, started)
        stopping_at = time.monotonic()
    # running() returned: asr drained and stopped; its first step was a ready=false beat.
    told_at, _ = await huds[talker].wait(has_notice, after=stopping_at, timeout_s=5)
    LATENCIES["stopped"].append(told_at - stopping_at)
    assert told_at - stopping_at <= NOTICE_WITHIN_S
    assert huds[newcomer].since(0) == []

    # A device the overlay has not seen: told when it shows up speaking (a voice command), not before.
    typed_at = time.monotonic()
    await _voice_input(hub_client, newcomer, "hello")
    told_at, update = await huds[newcomer].wait(has_notice, after=typed_at, timeout_s=5)
    assert told_at - typed_at <= NOTICE_WITHIN_S
    assert finals_of(update) == [], "nothing was said: the notice only"
    await asyncio.sleep(0.5)
    assert sum(has_notice(u) for u in huds[newcomer].since(0)) == 1, "told once"
    for hud in huds.values():
        await hud.stop()


async def test_a_partition_whose_replica_is_gone_says_so_only_to_its_devices(overlay, hub, hub_client, devices, corpus):
    served, unserved = device_in_partition(0, "even"), device_in_partition(1, "odd")
    for device in (served, unserved):
        await devices.add(device)
    huds = {d: await Hud(d).start(hub_client) for d in (served, unserved)}
    # Replica 0 of 2 takes the even partitions; replica 1 is not running.
    async with running(create_asr(asr_settings(hub.url, asr_replicas=2, asr_replica=0))):
        tracker = overlay.handlers.presence
        assert await tracker.wait_serving(audio_subject(served), service="asr", timeout_s=10)
        assert not tracker.serves(audio_subject(unserved), service="asr")
        assert tracker.why_not(audio_subject(unserved), service="asr").startswith("no asr instance takes")
        at = time.monotonic()
        for device in (served, unserved):
            await _voice_input(hub_client, device, "hi")
        await huds[unserved].wait(has_notice, after=at, timeout_s=NOTICE_WITHIN_S + 1)
        spoken_at = time.monotonic()
        await asyncio.gather(speak(hub_client, served, corpus[3].pcm), speak(hub_client, unserved, corpus[4].pcm))
        await _caption_of(huds[served], corpus[3].text, spoken_at)
        await asyncio.sleep(1.0)
        assert not any(has_notice(u) for u in huds[served].since(0)), "its partition is served: no notice"
        assert not any(finals_of(u) for u in huds[unserved].since(0)), "nobody takes its audio: no caption, only the notice"
    for hud in huds.values():
        await hud.stop()


async def test_report_latencies():
    """Printed for the report (run with -s): how long after asr went the HUD said so."""
    for kind, values in LATENCIES.items():
        if values:
            print(f"caption notice, asr {kind}: median {statistics.median(values) * 1000:.0f} ms over {len(values)}")
    assert LATENCIES["killed"], "the kill test ran first and measured"

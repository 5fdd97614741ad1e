"""Captions over a real nats-server: transcripts and translations published
as the asr and translation services do become one rolling caption region on
the right device's glasses, partials replaced, finals committed."""

import asyncio
import datetime as dt

import nats
import pytest
from sightline.v1.asr_pb2 import Transcript
from sightline.v1.display_pb2 import HudRegion
from sightline.v1.translation_pb2 import TextOrigin, Translation
from sightline_asr.bus import ASR
from sightline_glasses.agent import GlassesAgent
from sightline_overlay.app import create_service
from sightline_overlay.settings import OverlaySettings
from sightline_runtime import subjects
from sightline_runtime.events import event_headers, new_meta
from sightline_runtime.presence import PresenceAnnouncer
from sightline_runtime.streams import ensure_streams
from sightline_translation.bus import TRANSLATION


async def _ready() -> dict[str, bool]:
    return {"stand-in": True}


@pytest.fixture
async def overlay(nats_server, run_service, http_port):
    # This test publishes what asr and translation would: their streams exist and they
    # are present (beating as they do), so overlay neither waits nor says captions are unavailable.
    nc = await nats.connect(nats_server.url)
    await ensure_streams(nc.jetstream(), [ASR, TRANSLATION])
    stand_ins = [
        PresenceAnnouncer(nc, "asr", "stand-in", _ready, lambda: [subjects.UP_AUDIO_ALL, f"{subjects.UP_AUDIO_ALL}.*"]),
        PresenceAnnouncer(nc, "translation", "stand-in", _ready, lambda: [subjects.domain_all("asr", "final")]),
    ]
    for announcer in stand_ins:
        announcer.start()
    yield await run_service(create_service(OverlaySettings(nats_url=nats_server.url, http_port=http_port, http_host="127.0.0.1")))
    for announcer in stand_ins:
        await announcer.stop()
    await nc.close()


async def _publish(nc, subject, event, stream=None):
    if stream:
        await nc.jetstream().publish(subject, event.SerializeToString(), headers=event_headers(event), stream=stream)
    else:
        await nc.publish(subject, event.SerializeToString(), headers=event_headers(event))


def _transcript(device, utt, text, rev, final=False, producer="asr"):
    return Transcript(
        meta=new_meta(device, producer), utterance_id=utt, text=text, revision=rev, is_final=final, language="en", target_language="es"
    )


def _translation(device, utt, text, rev, final=False):
    return Translation(
        meta=new_meta(device, "translation"),
        utterance_id=utt,
        text=text,
        revision=rev,
        is_final=final,
        origin=TextOrigin.TEXT_ORIGIN_SPEECH,
        source_language="en",
        target_language="es",
        engine="apertium",
    )


async def _captions(glasses, idle=1.5):
    return [u for u in [u async for u in glasses.updates(idle)] if u.region == HudRegion.HUD_REGION_CAPTION]


async def test_a_spoken_sentence_becomes_a_rolling_caption(overlay, nats_server, nc, registry):
    await registry.add("a")
    await registry.add("b")
    async with GlassesAgent.connect("a", nats_server.url) as a, GlassesAgent.connect("b", nats_server.url) as b:
        await _publish(nc, "asr.partial.a", _transcript("a", "u1", "where is", 1))
        await _publish(nc, "translation.partial.a", _translation("a", "u1", "dónde está", 1))
        await _publish(nc, "asr.partial.a", _transcript("a", "u1", "where is the station", 2))
        await _publish(nc, "asr.final.a", _transcript("a", "u1", "Where is the station?", 3, final=True), stream=ASR.name)
        await _publish(
            nc, "translation.final.a", _translation("a", "u1", "¿Dónde está la estación?", 2, final=True), stream=TRANSLATION.name
        )
        updates = await _captions(a)
        assert await _captions(b, idle=0.3) == []
    last = updates[-1].caption.entries[-1]
    assert last.is_final
    assert list(last.source.lines) == ["Where is the station?"]
    assert list(last.translation.lines) == ["¿Dónde está la estación?"]
    assert updates[-1].bounds.y >= 300, "captions sit in the lower third"
    partial_texts = [u.caption.entries[-1].source.lines[0] for u in updates if not u.caption.entries[-1].is_final]
    assert "where is" in partial_texts, "partials are shown before the final"
    versions = [u.region_version for u in updates]
    assert versions == sorted(set(versions))


async def test_stale_transcripts_and_other_origins_are_not_shown(overlay, nats_server, nc, registry):
    await registry.add("a")
    async with GlassesAgent.connect("a", nats_server.url) as a:
        old = _transcript("a", "u0", "said ten minutes ago", 1, final=True)
        old.meta.created_at.FromDatetime(dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10))
        await _publish(nc, "asr.final.a", old, stream=ASR.name)
        sign = _translation("a", "s1", "SALIDA", 1, final=True)
        sign.origin = TextOrigin.TEXT_ORIGIN_SIGN
        await _publish(nc, "translation.final.a", sign, stream=TRANSLATION.name)
        assert await _captions(a, idle=1.0) == []


async def test_a_transcript_on_another_devices_subject_is_refused(overlay, nats_server, nc, registry):
    await registry.add("a")
    await registry.add("b")
    async with GlassesAgent.connect("b", nats_server.url) as b:
        forged = _transcript("a", "u1", "injected", 1)
        await _publish(nc, "asr.partial.b", forged)
        await asyncio.sleep(0.3)
        assert await _captions(b, idle=0.5) == []
    assert (
        overlay.metrics.registry.get_sample_value(
            "sightline_events_rejected_total", {"service": "overlay", "handler": "asr_partial", "reason": "device_mismatch"}
        )
        == 1
    )

"""Issue 3, translation: transcripts published on the bus as the asr service
does become Translation events from the real engines: en->es from
Apertium, zh<->en from CC-CEDICT; partials cheaply, finals always."""

import asyncio
import time

import pytest
from nats.js.api import ConsumerConfig, DeliverPolicy
from sightline.v1.translation_pb2 import TextOrigin, Translation
from sightline_translation.app import create_service
from sightline_translation.bus import TRANSLATION
from sightline_translation.settings import TranslationSettings
from sightline_translation.testing import TranslationTap, publish_transcript, transcript

# Ten caption-length sentences and words their Spanish must contain. Apertium
# is rule-based, so the sentences are not always idiomatic ("Dónde es la
# canal de tren?"), but the content words are right.
SENTENCES = [
    ("Where is the train station?", ["dónde", "tren"]),
    ("I would like a coffee with milk, please.", ["café", "leche"]),
    ("Good morning, how are you today?", ["buenos días", "hoy"]),
    ("The museum opens at nine o'clock.", ["museo", "nueve"]),
    ("Can you help me find my hotel?", ["hotel", "encontrar"]),
    ("How much does this ticket cost?", ["cuánto"]),
    ("My friend is waiting at the airport.", ["amigo", "aeropuerto"]),
    ("We want to eat dinner in a small restaurant.", ["restaurante", "pequeño"]),
    ("The water is very cold.", ["agua", "fría"]),
    ("Thank you very much for your help.", ["gracias", "ayuda"]),
]


@pytest.fixture
async def translation(nats_server, owner_streams, run_service, http_port):
    settings = TranslationSettings(nats_url=nats_server.url, http_port=http_port, http_host="127.0.0.1")
    return await run_service(create_service(settings), timeout_s=60)


def _count(service, name, labels):
    return service.metrics.registry.get_sample_value(name, labels) or 0.0


async def test_english_finals_become_spanish_from_apertium(translation, nc, registry):
    await registry.add("alpha")
    sent = []
    async with TranslationTap(nc, "alpha") as tap:
        for n, (sentence, _) in enumerate(SENTENCES):
            event = transcript("alpha", sentence, utterance_id=f"utt-{n}", revision=3, final=True, target_language="es")
            sent.append(event)
            await publish_transcript(nc, event)
        finals = [await tap.final() for _ in SENTENCES]

    for (sentence, words), source, final in zip(SENTENCES, sent, finals, strict=True):
        assert final.source_text == sentence
        for word in words:
            assert word in final.text.lower(), f"{sentence!r} -> {final.text!r}: no {word!r}"
        assert final.engine == "apertium"
        assert final.fallback_used is False
        assert (final.source_language, final.target_language) == ("en", "es")
        assert final.origin == TextOrigin.TEXT_ORIGIN_SPEECH
        assert final.is_final
        assert (final.utterance_id, final.revision) == (source.utterance_id, 3)
        assert final.source_event_id == source.meta.event_id
        assert final.meta.causation_id == source.meta.event_id
        assert final.meta.producer == "translation"
    seqs = [f.meta.seq for f in finals]
    assert seqs == sorted(set(seqs)), "meta.seq increases per device"

    # Finals are durable: they are in the TRANSLATION stream, keyed for dedup.
    js = nc.jetstream()
    sub = await js.subscribe(
        "translation.final.alpha",
        stream=TRANSLATION.name,
        config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL),
        ordered_consumer=True,
    )
    stored = [await sub.next_msg(timeout=5) for _ in SENTENCES]
    await sub.unsubscribe()
    assert [Translation.FromString(m.data).text for m in stored] == [f.text for f in finals]
    assert all(m.headers["Nats-Msg-Id"] == Translation.FromString(m.data).meta.event_id for m in stored)


async def test_chinese_and_english_go_through_cc_cedict(translation, nc, registry):
    await registry.add("bravo")
    async with TranslationTap(nc, "bravo") as tap:
        await publish_transcript(
            nc, transcript("bravo", "火车站在哪里？", utterance_id="z1", final=True, language="zh", target_language="en")
        )
        zh_en = await tap.final()
        await publish_transcript(
            nc, transcript("bravo", "Where is the train station?", utterance_id="e1", final=True, target_language="zh-CN")
        )
        en_zh = await tap.final()
    assert (zh_en.engine, zh_en.text, zh_en.source_language, zh_en.target_language) == ("cedict", "Train station at where?", "zh", "en")
    assert (en_zh.engine, en_zh.text, en_zh.target_language) == ("cedict", "哪里是火车站？", "zh")


async def test_partials_are_translated_and_the_final_always_follows(translation, nc, registry):
    await registry.add("alpha", target_language="es")  # no target in the transcripts: the device's default
    words = ["where", "is", "the", "train", "station"]
    async with TranslationTap(nc, "alpha") as tap:
        for n in range(1, len(words) + 1):
            await publish_transcript(nc, transcript("alpha", " ".join(words[:n]), revision=n))
            await asyncio.sleep(0.3)  # ASR pace: a partial every few hundred ms
        await publish_transcript(nc, transcript("alpha", "Where is the train station?", revision=6, final=True))
        events = await tap.drain(idle_s=1.5)
    partials = [e for e in events if not e.is_final]
    finals = [e for e in events if e.is_final]
    assert [p.revision for p in partials] == [1, 2, 3, 4, 5], "partials at ASR pace are all translated"
    assert partials[0].text == "Dónde"
    assert all(p.engine == "apertium" and p.target_language == "es" for p in partials)
    assert len(finals) == 1
    assert events[-1] is finals[0], "the final comes after its partials"
    assert "tren" in finals[0].text


async def test_a_storm_of_partials_costs_a_few_engine_calls_and_does_not_delay_finals(translation, nc, registry):
    for device in ("alpha", "bravo"):
        await registry.add(device)
    async with TranslationTap(nc, "alpha") as alpha, TranslationTap(nc, "bravo") as bravo:
        words = ("the quick brown fox jumps over the lazy dog " * 12).split()
        for n in range(1, len(words) + 1):
            await publish_transcript(nc, transcript("alpha", " ".join(words[:n]), revision=n, target_language="es"))
        started = time.perf_counter()
        await publish_transcript(nc, transcript("bravo", "The water is very cold.", final=True, target_language="es"))
        bravo_final = await bravo.final(timeout_s=5)
        bravo_latency = time.perf_counter() - started
        alpha_events = await alpha.drain(idle_s=1.0)
    assert "agua" in bravo_final.text.lower()
    assert bravo_latency < 1.0, f"another device's final waited {bravo_latency:.2f}s behind a partial storm"
    assert 1 <= len(alpha_events) <= 3, f"{len(words)} partials cost {len(alpha_events)} translations"
    assert alpha_events[-1].revision == len(words), "the newest partial wins"
    skipped = _count(translation, "sightline_translation_partials_skipped_total", {"reason": "superseded"})
    assert skipped >= len(words) - 3


async def test_no_target_language_or_the_same_language_publishes_nothing(translation, nc, registry):
    await registry.add("quiet")  # no default_target_language
    async with TranslationTap(nc, "quiet") as tap:
        await publish_transcript(nc, transcript("quiet", "Hello there.", final=True))
        await publish_transcript(nc, transcript("quiet", "Hello again.", utterance_id="u2", final=True, target_language="en-GB"))
        await publish_transcript(nc, transcript("quiet", "Hello partial.", utterance_id="u3", target_language="en"))
        assert await tap.drain(idle_s=1.0) == []
    assert _count(translation, "sightline_translation_translations_total", {"engine": "none", "kind": "final", "outcome": "no_target"}) == 1
    assert (
        _count(translation, "sightline_translation_translations_total", {"engine": "none", "kind": "final", "outcome": "same_language"})
        == 1
    )
    assert (
        _count(translation, "sightline_translation_translations_total", {"engine": "none", "kind": "partial", "outcome": "same_language"})
        == 1
    )

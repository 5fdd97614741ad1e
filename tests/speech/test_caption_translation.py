"""Issue 8, never silent loss, translations: a spoken caption whose
translation is late, cannot come (translation stopped), failed or is not
offered for the pair says so on the HUD instead of silently showing the
source only, and a translation that comes after all replaces the note.
Real nats-server, real asr (Moonshine), real translation (Apertium, or its
OpenAI-compatible engine against a real small model, SmolLM2-135M on
llama.cpp, behind a proxy that makes it slow or fail),
the real overlay with its presence tracker, speech from espeak-ng."""

from __future__ import annotations

import asyncio
import time

import pytest
import pytest_asyncio
from sightline_cli.stack import SERVICES
from sightline_runtime.processes import free_port
from sightline_runtime.streams import ensure_streams
from sightline_runtime.surface import deployment_streams, load_surfaces
from sightline_translation.app import create_service as create_translation
from sightline_translation.settings import TranslationSettings

from tests.speech.availability import Hud, overlay_service, speak
from tests.speech.conftest import running

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]

DEADLINE_S = 1.5  # OverlaySettings.caption_translation_deadline_s
CHECK_S = 0.2  # OverlaySettings.caption_check_interval_s
LATE = "(translation late)"
UNAVAILABLE = "(translation unavailable)"
FAILED = "(translation failed)"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def overlay(asr, hub, hub_client):
    await ensure_streams(hub_client.jetstream(), deployment_streams(load_surfaces(SERVICES)))
    async with running(overlay_service(hub.url)) as service:
        yield service


def translation_service(url: str, **overrides: object):
    return create_translation(TranslationSettings(nats_url=url, http_port=free_port(), http_host="127.0.0.1", **overrides))


def _entry(update, utterance_id: str):
    for entry in update.caption.entries:
        if entry.utterance_id == utterance_id:
            return entry
    return None


async def _spoken_final(hud: Hud, after: float, word: str, timeout_s: float = 20.0):
    """(when, update, utterance id) of the first update committing an utterance
    spoken after `after` whose words include `word` (the recogniser may cut
    a sentence in two: the part with the word is the one followed)."""
    before = {e.utterance_id for at, u in hud.updates if at < after for e in u.caption.entries}

    def find(update):
        for entry in update.caption.entries:
            if entry.is_final and entry.utterance_id not in before and word in " ".join(entry.source.lines).lower():
                return entry
        return None

    at, update = await hud.wait(lambda u: find(u) is not None, after=after, timeout_s=timeout_s)
    return at, update, find(update).utterance_id


async def _translation_of(hud: Hud, utterance_id: str, after: float, *, note: str = "", word: str = "", timeout_s: float = 20.0):
    """(when, lines) of the first update showing `utterance_id` with `note`
    in place of its translation, or with a translation containing `word`
    (partial translations, of words the final may have changed, come first)."""

    def shown(update) -> bool:
        entry = _entry(update, utterance_id)
        if entry is None or not entry.translation.lines:
            return False
        lines = list(entry.translation.lines)
        if note:
            return lines == [note]
        return not lines[0].startswith("(translation") and word in " ".join(lines).lower()

    at, update = await hud.wait(shown, after=after, timeout_s=timeout_s)
    return at, list(_entry(update, utterance_id).translation.lines)


async def test_translation_stopped_says_unavailable_at_once_and_its_late_translation_replaces_it(overlay, hub, hub_client, devices, corpus):
    device = "tango"
    await devices.add(device)
    hud = await Hud(device).start(hub_client)
    tracker = overlay.handlers.presence
    async with running(translation_service(hub.url)):
        assert await tracker.wait_serving(f"asr.final.{device}", service="translation", timeout_s=10)
        spoken = time.monotonic()
        await speak(hub_client, device, corpus[2].pcm, target_language="es")
        final_at, _, first = await _spoken_final(hud, spoken, "museum")
        await _translation_of(hud, first, final_at, word="museo")
    assert not tracker.serves(f"asr.final.{device}", service="translation"), "its goodbye beat was heard"

    spoken = time.monotonic()
    await speak(hub_client, device, corpus[0].pcm, target_language="es")
    final_at, update, utterance = await _spoken_final(hud, spoken, "station")
    assert list(_entry(update, utterance).translation.lines) == [UNAVAILABLE], "said with the final itself, not after a deadline"

    # Back: the durable consumer resumes where it stopped; the late translation replaces the note.
    back = time.monotonic()
    async with running(translation_service(hub.url)):
        translated_at, _ = await _translation_of(hud, utterance, final_at, word="tren")
        assert translated_at - back < 10.0
        print(f"translation back: the late translation replaced the note {translated_at - back:.2f} s after translation was started")
    await hud.stop()


async def test_a_slow_translation_says_late_after_the_deadline_then_is_replaced(
    overlay, hub, hub_client, devices, corpus, llm_proxy, llm_server
):
    device = "uniform"
    await devices.add(device)
    hud = await Hud(device).start(hub_client)
    llm_proxy.mode, llm_proxy.delay_s = "delay", 3.5  # the real model's answers, each held 3.5 s
    settings = dict(
        translation_routes="en-es=openai-compatible",
        translation_llm_url=llm_proxy.url,
        translation_llm_model=llm_server.model,
        translation_llm_timeout_s=12.0,
    )
    async with running(translation_service(hub.url, **settings)):
        assert await overlay.handlers.presence.wait_serving(f"asr.final.{device}", service="translation", timeout_s=10)
        spoken = time.monotonic()
        await speak(hub_client, device, corpus[3].pcm, target_language="es")
        final_at, _, utterance = await _spoken_final(hud, spoken, "jacket")
        late_at, _ = await _translation_of(hud, utterance, final_at, note=LATE)
        assert DEADLINE_S - 0.05 <= late_at - final_at <= DEADLINE_S + CHECK_S + 0.5, late_at - final_at
        print(f"translation late: said {late_at - final_at:.2f} s after the final (deadline {DEADLINE_S} s)")
        _, lines = await _translation_of(hud, utterance, late_at, timeout_s=40)
    shown = " ".join(" ".join(lines).split()[:3])
    answers = [" ".join(e.model_content.split()) for e in llm_proxy.chat_exchanges if e.upstream]
    assert any(shown in answer for answer in answers), f"the model's answer replaced the note: {lines!r}"
    await hud.stop()


async def test_a_failing_translation_says_failed(overlay, hub, hub_client, devices, corpus, llm_proxy):
    device = "victor"
    await devices.add(device)
    hud = await Hud(device).start(hub_client)
    llm_proxy.mode = "status_500"  # the model server in front of which the proxy fails every call
    settings = dict(
        translation_routes="en-es=openai-compatible",  # no local fallback on purpose
        translation_llm_url=llm_proxy.url,
        translation_llm_failure_threshold=100,
        max_deliver=2,
    )
    async with running(translation_service(hub.url, **settings)):
        assert await overlay.handlers.presence.wait_serving(f"asr.final.{device}", service="translation", timeout_s=10)
        spoken = time.monotonic()
        await speak(hub_client, device, corpus[5].pcm, target_language="es")
        final_at, _, utterance = await _spoken_final(hud, spoken, "traffic")
        failed_at, _ = await _translation_of(hud, utterance, final_at, note=FAILED)
        assert failed_at - final_at < 5.0
        print(f"translation failed: said {failed_at - final_at:.2f} s after the final (2 attempts)")
        # Said on the HUD and, as before, dead-lettered for people to look at.
        js = hub_client.jetstream()
        async with asyncio.timeout(5):
            while not (await js.stream_info("DEAD_LETTERS", subjects_filter="dlq.translation.asr_final")).state.subjects:
                await asyncio.sleep(0.05)
    await hud.stop()


async def test_an_unsupported_pair_says_so(overlay, hub, hub_client, devices, corpus):
    device = "whiskey"
    await devices.add(device)
    hud = await Hud(device).start(hub_client)
    async with running(translation_service(hub.url)):
        assert await overlay.handlers.presence.wait_serving(f"asr.final.{device}", service="translation", timeout_s=10)
        spoken = time.monotonic()
        await speak(hub_client, device, corpus[8].pcm, target_language="fr")
        final_at, _, utterance = await _spoken_final(hud, spoken, "slowly")
        said_at, _ = await _translation_of(hud, utterance, final_at, note="(no translation en->fr)")
        assert said_at - final_at < DEADLINE_S, "the translation service said so: no need to wait for the deadline"
        print(f"translation unsupported: said {said_at - final_at:.2f} s after the final")
    await hud.stop()

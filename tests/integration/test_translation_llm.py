"""The LLM adapter in the running service: with an OpenAI-compatible endpoint
configured (a localhost stand-in that speaks the chat-completions shape; no
real model is reachable offline) it answers; when the endpoint is down,
slow, failing or talking nonsense, the local CC-CEDICT engine answers and
the Translation event says so."""

import logging
import time

import pytest
from pydantic import SecretStr
from sightline_translation.app import create_service
from sightline_translation.settings import TranslationSettings
from sightline_translation.testing import ChatCompletionsStandIn, TranslationTap, publish_transcript, transcript

API_KEY = "sk-live-never-log-me-1234567890"


@pytest.fixture
def llm():
    with ChatCompletionsStandIn() as server:
        yield server


@pytest.fixture
async def translation(nats_server, owner_streams, run_service, http_port, llm):
    settings = TranslationSettings(
        nats_url=nats_server.url,
        http_port=http_port,
        http_host="127.0.0.1",
        translation_routes="zh-en=openai-compatible>cedict,en-zh=openai-compatible>cedict",
        translation_llm_url=llm.url,
        translation_llm_model="qwen-mt-turbo",
        translation_llm_api_key=SecretStr(API_KEY),
        translation_llm_timeout_s=0.5,
        translation_llm_failure_threshold=50,
        translation_cache_size=0,
    )
    return await run_service(create_service(settings), timeout_s=60)


async def test_the_llm_answers_when_it_is_up(translation, llm, nc, registry):
    await registry.add("alpha")
    async with TranslationTap(nc, "alpha") as tap:
        await publish_transcript(nc, transcript("alpha", "火车站在哪里？", final=True, language="zh", target_language="en"))
        final = await tap.final()
    assert (final.engine, final.fallback_used, final.text) == ("openai-compatible", False, "Where is the train station?")
    assert llm.requests[-1]["headers"]["authorization"] == f"Bearer {API_KEY}"


@pytest.mark.parametrize("mode", ["error500", "slow", "garbage", "not_json", "ramble", "down"])
async def test_a_failing_llm_falls_back_to_cc_cedict(translation, llm, nc, registry, caplog, mode):
    await registry.add("alpha")
    if mode == "down":
        llm.stop()  # nothing listens any more
    else:
        llm.mode, llm.delay_s = mode, 3.0
    with caplog.at_level(logging.DEBUG):
        async with TranslationTap(nc, "alpha") as tap:
            started = time.perf_counter()
            await publish_transcript(nc, transcript("alpha", "火车站在哪里？", final=True, language="zh", target_language="en"))
            final = await tap.final()
            elapsed = time.perf_counter() - started
    assert (final.engine, final.fallback_used) == ("cedict", True)
    assert final.text == "Train station at where?"
    assert elapsed < 2.0, "a slow endpoint costs at most its timeout"
    fallbacks = translation.metrics.registry.get_sample_value(
        "sightline_translation_fallbacks_total", {"engine": "openai-compatible", "fallback": "cedict"}
    )
    assert fallbacks == 1
    assert any(getattr(r, "engine", "") == "openai-compatible" for r in caplog.records), "the failure is logged with its engine"
    assert API_KEY not in caplog.text

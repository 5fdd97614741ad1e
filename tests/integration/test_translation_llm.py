"""The LLM adapter in the running service: with an OpenAI-compatible endpoint
configured (a real small model, SmolLM2-135M on llama.cpp, behind the
fault-injecting proxy) the model's answer is the translation; when the
endpoint is down, slow, failing or talking nonsense, the local CC-CEDICT
engine answers and the Translation event says so."""

import logging
import time

import pytest
from pydantic import SecretStr
from sightline_translation.app import create_service
from sightline_translation.settings import TranslationSettings
from sightline_translation.testing import TranslationTap, publish_transcript, transcript

API_KEY = "sk-live-never-log-me-1234567890"


@pytest.fixture
def llm_timeout_s() -> float:
    return 30.0  # a real model on a loaded 2-core machine; the slow case sets its own


@pytest.fixture
async def translation(nats_server, owner_streams, run_service, http_port, llm_proxy, llm_server, llm_timeout_s):
    settings = TranslationSettings(
        nats_url=nats_server.url,
        http_port=http_port,
        http_host="127.0.0.1",
        translation_routes="zh-en=openai-compatible>cedict,en-zh=openai-compatible>cedict",
        translation_llm_url=llm_proxy.url,
        translation_llm_model=llm_server.model,
        translation_llm_api_key=SecretStr(API_KEY),
        translation_llm_timeout_s=llm_timeout_s,
        translation_llm_failure_threshold=50,
        translation_cache_size=0,
    )
    return await run_service(create_service(settings), timeout_s=60)


async def test_the_llm_answers_when_it_is_up(translation, llm_proxy, nc, registry):
    await registry.add("alpha")
    async with TranslationTap(nc, "alpha") as tap:
        await publish_transcript(nc, transcript("alpha", "火车站在哪里？", final=True, language="zh", target_language="en"))
        final = await tap.final(timeout_s=40)
    assert (final.engine, final.fallback_used) == ("openai-compatible", False)
    [exchange] = llm_proxy.chat_exchanges
    assert exchange.user_text == "火车站在哪里？", "the zh source went to the zh-en route's LLM"
    assert "from Chinese to English" in exchange.request["messages"][0]["content"]
    assert final.text == exchange.model_content.strip().strip('"“”').strip(), "the event carries the model's own answer"
    assert final.text
    assert exchange.headers["authorization"] == f"Bearer {API_KEY}"


# mode, the service's LLM timeout, the failure reason the router logs
FAILURES = [
    ("status_500", 30.0, "error"),
    ("delay", 0.5, "timeout"),
    ("garbage", 30.0, "garbage"),
    ("not_json", 30.0, "garbage"),
    ("ramble", 30.0, "garbage"),
    ("down", 30.0, "error"),
]


@pytest.mark.parametrize(("mode", "llm_timeout_s", "reason"), FAILURES)
async def test_a_failing_llm_falls_back_to_cc_cedict(translation, llm_proxy, nc, registry, caplog, mode, reason):
    await registry.add("alpha")
    if mode == "down":
        llm_proxy.stop()  # nothing listens any more
    else:
        llm_proxy.mode, llm_proxy.delay_s = mode, 5.0
    with caplog.at_level(logging.DEBUG):
        async with TranslationTap(nc, "alpha") as tap:
            started = time.perf_counter()
            await publish_transcript(nc, transcript("alpha", "火车站在哪里？", final=True, language="zh", target_language="en"))
            final = await tap.final(timeout_s=40)
            elapsed = time.perf_counter() - started
    assert (final.engine, final.fallback_used) == ("cedict", True)
    assert final.text == "Train station at where?"
    if mode == "delay":
        assert elapsed < 2.0, "a slow endpoint costs at most its timeout"
    fallbacks = translation.metrics.registry.get_sample_value(
        "sightline_translation_fallbacks_total", {"engine": "openai-compatible", "fallback": "cedict"}
    )
    assert fallbacks == 1
    failures = [r for r in caplog.records if getattr(r, "engine", "") == "openai-compatible"]
    assert failures, "the failure is logged with its engine"
    assert {getattr(r, "reason", "") for r in failures} == {reason}
    assert API_KEY not in caplog.text

"""Routes from settings and the router's fallback and cache, with the real
local engines and a real small model (SmolLM2-135M on llama.cpp, behind the
fault-injecting `llm_proxy`) as the preferred engine."""

import time

import pytest
from prometheus_client import CollectorRegistry
from sightline_translation.languages import InvalidLanguage, Pair, parse_pair, primary
from sightline_translation.metrics import TranslationMetrics
from sightline_translation.router import TranslationFailed, UnsupportedPair
from sightline_translation.routing import RouteError, build_router, parse_routes
from sightline_translation.settings import TranslationSettings

ZH_EN = Pair("zh", "en")
EN_ES = Pair("en", "es")


def test_language_tags_route_by_their_primary_subtag():
    assert primary("en-US") == "en"
    assert primary("zh-Hans-CN") == "zh"
    assert primary("ES") == "es"
    assert parse_pair("en-es") == EN_ES
    for bad in ("", "e", "english!", "en us", "12"):
        with pytest.raises(InvalidLanguage):
            primary(bad)


def test_routes_parse_from_the_compact_form_and_from_json():
    assert parse_routes("en-es=apertium, zh-en=openai-compatible>cedict") == {
        EN_ES: ("apertium",),
        ZH_EN: ("openai-compatible", "cedict"),
    }
    assert parse_routes('{"zh-en": ["openai-compatible", "cedict"], "en-es": "apertium"}') == {
        ZH_EN: ("openai-compatible", "cedict"),
        EN_ES: ("apertium",),
    }


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("en-es=babelfish", "unknown engine"),
        ("en-en=apertium", "into itself"),
        ("english=apertium", "not a language pair"),
        ("en-es", "not 'pair=value'"),
        ("{not json", "not valid JSON"),
        ("", "no route"),
    ],
)
def test_bad_routes_are_refused_at_start_up(spec, match):
    with pytest.raises(RouteError, match=match):
        parse_routes(spec)


def _metrics() -> TranslationMetrics:
    return TranslationMetrics(CollectorRegistry())


def test_without_an_llm_url_the_llm_is_dropped_from_routes():
    router = build_router(TranslationSettings(), _metrics())
    assert router.describe() == {"en-es": ["apertium"], "en-zh": ["cedict"], "es-en": ["apertium"], "zh-en": ["cedict"]}
    with pytest.raises(RouteError, match="LLM_URL is empty"):
        build_router(TranslationSettings(translation_routes="zh-en=openai-compatible"), _metrics())
    with pytest.raises(RouteError, match="no mode for"):
        build_router(TranslationSettings(translation_routes="en-fr=apertium"), _metrics())


async def _router(llm_url: str, model: str, timeout_s: float = 30.0):
    settings = TranslationSettings(
        translation_routes="zh-en=openai-compatible>cedict,en-es=apertium",
        translation_llm_url=llm_url,
        translation_llm_model=model,
        translation_llm_timeout_s=timeout_s,
        translation_llm_failure_threshold=100,
    )
    r = build_router(settings, _metrics())
    await r.start()
    assert r.ready()
    return r


@pytest.fixture
async def router(llm_proxy, llm_server):
    r = await _router(llm_proxy.url, llm_server.model)
    yield r
    await r.close()


def _sample(router, name, labels):
    return router.metrics.registry.get_sample_value(name, labels) or 0.0


async def test_the_preferred_engine_answers_and_is_cached(router, llm_proxy):
    first = await router.translate(["小心地滑"], ZH_EN)
    assert (first.engine, first.fallback_used) == ("openai-compatible", False)
    [exchange] = llm_proxy.chat_exchanges
    assert first.texts == [exchange.model_content.strip()], "the model's own answer"
    again = await router.translate(["小心地滑"], ZH_EN)
    assert again.texts == first.texts
    assert again.engine == "openai-compatible"
    assert len(llm_proxy.chat_exchanges) == 1, "the second answer came from the cache"
    assert _sample(router, "sightline_translation_cache_total", {"result": "hit"}) == 1


def _fell_back(router, result) -> None:
    assert result.engine == "cedict"
    assert result.fallback_used is True
    assert result.texts == ["Exit ⟦0⟧"]
    assert _sample(router, "sightline_translation_fallbacks_total", {"engine": "openai-compatible", "fallback": "cedict"}) == 1
    assert _sample(router, "sightline_translation_translations_total", {"engine": "cedict", "kind": "final", "outcome": "fallback"}) == 1


REASONS = {"status_500": "error", "garbage": "garbage", "drop_placeholders": "garbage"}


@pytest.mark.parametrize("mode", ["status_500", "garbage", "drop_placeholders"])
async def test_a_failing_llm_falls_back_to_the_local_engine(router, llm_proxy, mode):
    llm_proxy.mode = mode
    _fell_back(router, await router.translate(["出口⟦0⟧"], ZH_EN))
    assert _sample(router, "sightline_translation_engine_failures_total", {"engine": "openai-compatible", "reason": REASONS[mode]}) == 1
    # A fallback answer is not cached: once the LLM is back, it answers again.
    llm_proxy.mode = "pass"
    back = await router.translate(["出口⟦0⟧"], ZH_EN)
    assert back.engine == "openai-compatible"
    assert not back.fallback_used
    assert "⟦0⟧" in back.texts[0], "the real model kept the placeholder"


async def test_a_slow_llm_costs_its_timeout_then_the_local_engine_answers(llm_proxy, llm_server):
    llm_proxy.mode, llm_proxy.delay_s = "delay", 5.0
    router = await _router(llm_proxy.url, llm_server.model, timeout_s=0.5)
    started = time.perf_counter()
    result = await router.translate(["出口⟦0⟧"], ZH_EN)
    assert time.perf_counter() - started < 1.5
    _fell_back(router, result)
    assert _sample(router, "sightline_translation_engine_failures_total", {"engine": "openai-compatible", "reason": "timeout"}) == 1
    await router.close()


async def test_an_unrouted_pair_is_refused_with_the_routes_it_has(router):
    with pytest.raises(UnsupportedPair, match=r"no translation engine for en->fr \(routes: en-es, zh-en\)"):
        await router.translate(["hello"], Pair("en", "fr"))


async def test_when_every_engine_fails_the_router_says_so(llm_proxy):
    settings = TranslationSettings(translation_routes="zh-en=openai-compatible", translation_llm_url=llm_proxy.url)
    router = build_router(settings, _metrics())
    await router.start()
    llm_proxy.mode = "status_500"
    with pytest.raises(TranslationFailed, match=r"every engine for zh-en failed: openai-compatible: .*HTTP 500"):
        await router.translate(["小心地滑"], ZH_EN)
    await router.close()

"""The OpenAI-compatible adapter against a real small model (SmolLM2-135M on
llama.cpp, the `llm_server` fixture) behind a recording, fault-injecting
proxy (`llm_proxy`): the request it sends, that it returns the model's own
text, and every way the endpoint can fail. The model is far too small to
translate well; the tests assert the protocol, not the translation."""

import asyncio
import logging
import time

import pytest
from pydantic import SecretStr
from sightline_translation.engines import EngineError, EngineGarbage, EngineTimeout, EngineUnavailable
from sightline_translation.engines.openai_compatible import OpenAICompatibleEngine
from sightline_translation.languages import Pair

ZH_EN = Pair("zh", "en")
SECRET = "sk-test-do-not-leak-4242"
# Generous: a real model on a loaded 2-core machine; the slow case sets its own.
TIMEOUT_S = 30.0


async def _engine(url: str, model: str, **options) -> OpenAICompatibleEngine:
    options = {"timeout_s": TIMEOUT_S, "failure_threshold": 3, "cooldown_s": 30.0} | options
    engine = OpenAICompatibleEngine([ZH_EN], url=url, model=model, api_key=SecretStr(SECRET), **options)
    await engine.start()
    return engine


def _as_translation(content: str) -> str:
    return content.strip().strip('"“”').strip()


async def test_sends_a_chat_completions_request_and_returns_the_models_answer(llm_proxy, llm_server):
    engine = await _engine(llm_proxy.url, llm_server.model)
    out = await engine.translate(["火车站在哪里？", "小心地滑", ""], ZH_EN)
    await engine.close()
    assert len(llm_proxy.chat_exchanges) == 2, "an empty text costs no request"
    answered = {e.user_text: _as_translation(e.model_content) for e in llm_proxy.chat_exchanges}
    assert out == [answered["火车站在哪里？"], answered["小心地滑"], ""], "each text got the model's own answer, in order"
    assert all(out[:2]), "the model answered something"
    # The texts of a batch are sent concurrently: find the first one's request.
    [exchange] = [e for e in llm_proxy.chat_exchanges if e.user_text == "火车站在哪里？"]
    assert exchange.path == "/v1/chat/completions"
    assert exchange.status == 200
    assert exchange.headers["authorization"] == f"Bearer {SECRET}"
    body = exchange.request
    assert body["model"] == llm_server.model
    assert body["messages"][0]["role"] == "system"
    assert "from Chinese to English" in body["messages"][0]["content"]
    assert body["messages"][1] == {"role": "user", "content": "火车站在哪里？"}
    assert body["temperature"] == 0
    assert body["max_tokens"] == 64


async def test_no_api_key_means_no_authorization_header(llm_proxy, llm_server):
    engine = OpenAICompatibleEngine([ZH_EN], url=llm_proxy.url, model=llm_server.model, timeout_s=TIMEOUT_S)
    await engine.start()
    await engine.translate(["小心地滑"], ZH_EN)
    await engine.close()
    assert "authorization" not in {k.lower() for k in llm_proxy.chat_exchanges[0].headers}


@pytest.mark.parametrize(
    ("mode", "error", "match"),
    [
        ("status_500", EngineError, "HTTP 500"),
        ("not_json", EngineGarbage, "not a chat-completions response"),
        ("garbage", EngineGarbage, "not text"),
        ("ramble", EngineGarbage, "characters for a"),
        ("drop_placeholders", EngineGarbage, "lost a glossary placeholder"),
    ],
)
async def test_a_bad_answer_is_an_engine_error(llm_proxy, llm_server, mode, error, match):
    llm_proxy.mode = mode
    engine = await _engine(llm_proxy.url, llm_server.model)
    with pytest.raises(error, match=match):
        await engine.translate(["我叫⟦0⟧。"], ZH_EN)
    await engine.close()
    if mode in ("ramble", "drop_placeholders"):
        assert llm_proxy.chat_exchanges[0].model_content, "the fault was applied to the real model's answer"


async def test_a_slow_endpoint_costs_at_most_the_timeout(llm_proxy, llm_server):
    llm_proxy.mode, llm_proxy.delay_s = "delay", 5.0
    engine = await _engine(llm_proxy.url, llm_server.model, timeout_s=0.4)
    started = time.perf_counter()
    with pytest.raises(EngineTimeout):
        await engine.translate(["小心地滑"], ZH_EN)
    assert time.perf_counter() - started < 1.5
    await engine.close()


async def test_an_endpoint_that_is_down_fails_fast():
    engine = await _engine("http://127.0.0.1:9/v1", "m")  # discard port: nothing listens
    with pytest.raises(EngineError, match="unreachable: ConnectError"):
        await engine.translate(["小心地滑"], ZH_EN)
    await engine.close()


async def test_repeated_failures_pause_the_endpoint_then_it_is_tried_again(llm_proxy, llm_server):
    llm_proxy.mode = "status_500"
    engine = await _engine(llm_proxy.url, llm_server.model, failure_threshold=2, cooldown_s=0.5)
    for _ in range(2):
        with pytest.raises(EngineError, match="HTTP 500"):
            await engine.translate(["小心地滑"], ZH_EN)
    with pytest.raises(EngineUnavailable, match="pausing"):
        await engine.translate(["小心地滑"], ZH_EN)
    assert len(llm_proxy.chat_exchanges) == 2, "while paused, no request is sent"
    llm_proxy.mode = "pass"
    await asyncio.sleep(0.6)
    [answer] = await engine.translate(["小心地滑"], ZH_EN)
    assert answer == _as_translation(llm_proxy.chat_exchanges[-1].model_content)
    assert engine.breaker.failures == 0
    await engine.close()


async def test_the_api_key_never_reaches_logs_or_errors(llm_proxy, llm_server, caplog):
    llm_proxy.mode = "status_500"
    engine = await _engine(llm_proxy.url, llm_server.model)
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(EngineError) as failure:
            await engine.translate(["小心地滑"], ZH_EN)
        await engine.close()
    assert SECRET not in str(failure.value)
    assert SECRET not in caplog.text
    assert SECRET not in repr(engine.__dict__)

"""The OpenAI-compatible adapter against a real HTTP server on localhost that
speaks the chat-completions JSON shape (a stand-in: no LLM is reachable
offline). Covers the request it sends and every way the endpoint can fail."""

import asyncio
import json
import logging
import time

import pytest
from pydantic import SecretStr
from sightline_translation.engines import EngineError, EngineGarbage, EngineTimeout, EngineUnavailable
from sightline_translation.engines.openai_compatible import OpenAICompatibleEngine
from sightline_translation.languages import Pair
from sightline_translation.testing import ChatCompletionsStandIn

ZH_EN = Pair("zh", "en")
SECRET = "sk-test-do-not-leak-4242"


@pytest.fixture
def stand_in():
    with ChatCompletionsStandIn() as server:
        yield server


async def _engine(url: str, **options) -> OpenAICompatibleEngine:
    options = {"timeout_s": 1.0, "failure_threshold": 3, "cooldown_s": 30.0} | options
    engine = OpenAICompatibleEngine([ZH_EN], url=url, model="qwen-mt-plus", api_key=SecretStr(SECRET), **options)
    await engine.start()
    return engine


async def test_sends_a_chat_completions_request_and_reads_the_answer(stand_in):
    engine = await _engine(stand_in.url)
    out = await engine.translate(["火车站在哪里？", "小心地滑", ""], ZH_EN)
    await engine.close()
    assert out == ["Where is the train station?", "Caution: wet floor", ""]
    assert len(stand_in.requests) == 2, "an empty text costs no request"
    # The texts of a batch are sent concurrently: find the first one's request.
    [request] = [r for r in stand_in.requests if json.loads(r["body"])["messages"][1]["content"] == "火车站在哪里？"]
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["authorization"] == f"Bearer {SECRET}"
    body = json.loads(request["body"])
    assert body["model"] == "qwen-mt-plus"
    assert body["messages"][0]["role"] == "system"
    assert "from Chinese to English" in body["messages"][0]["content"]
    assert body["messages"][1] == {"role": "user", "content": "火车站在哪里？"}
    assert body["temperature"] == 0


async def test_no_api_key_means_no_authorization_header(stand_in):
    engine = OpenAICompatibleEngine([ZH_EN], url=stand_in.url, model="m")
    await engine.start()
    await engine.translate(["小心地滑"], ZH_EN)
    await engine.close()
    assert "authorization" not in {k.lower() for k in stand_in.requests[0]["headers"]}


@pytest.mark.parametrize(
    ("mode", "error", "match"),
    [
        ("error500", EngineError, "HTTP 500"),
        ("not_json", EngineGarbage, "not a chat-completions response"),
        ("garbage", EngineGarbage, "not text"),
        ("ramble", EngineGarbage, "characters for a"),
        ("drop_placeholders", EngineGarbage, "lost a glossary placeholder"),
    ],
)
async def test_a_bad_answer_is_an_engine_error(stand_in, mode, error, match):
    stand_in.mode = mode
    engine = await _engine(stand_in.url)
    with pytest.raises(error, match=match):
        await engine.translate(["我叫⟦0⟧。"], ZH_EN)
    await engine.close()


async def test_a_slow_endpoint_costs_at_most_the_timeout(stand_in):
    stand_in.mode, stand_in.delay_s = "slow", 5.0
    engine = await _engine(stand_in.url, timeout_s=0.4)
    started = time.perf_counter()
    with pytest.raises(EngineTimeout):
        await engine.translate(["小心地滑"], ZH_EN)
    assert time.perf_counter() - started < 1.5
    await engine.close()


async def test_an_endpoint_that_is_down_fails_fast():
    engine = await _engine("http://127.0.0.1:9/v1")  # discard port: nothing listens
    with pytest.raises(EngineError, match="unreachable: ConnectError"):
        await engine.translate(["小心地滑"], ZH_EN)
    await engine.close()


async def test_repeated_failures_pause_the_endpoint_then_it_is_tried_again(stand_in):
    stand_in.mode = "error500"
    engine = await _engine(stand_in.url, failure_threshold=2, cooldown_s=0.5)
    for _ in range(2):
        with pytest.raises(EngineError, match="HTTP 500"):
            await engine.translate(["小心地滑"], ZH_EN)
    with pytest.raises(EngineUnavailable, match="pausing"):
        await engine.translate(["小心地滑"], ZH_EN)
    assert len(stand_in.requests) == 2, "while paused, no request is sent"
    stand_in.mode = "ok"
    await asyncio.sleep(0.6)
    assert await engine.translate(["小心地滑"], ZH_EN) == ["Caution: wet floor"]
    assert engine.breaker.failures == 0
    await engine.close()


async def test_the_api_key_never_reaches_logs_or_errors(stand_in, caplog):
    stand_in.mode = "error500"
    engine = await _engine(stand_in.url)
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(EngineError) as failure:
            await engine.translate(["小心地滑"], ZH_EN)
        await engine.close()
    assert SECRET not in str(failure.value)
    assert SECRET not in caplog.text
    assert SECRET not in repr(engine.__dict__)

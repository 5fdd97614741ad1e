"""The runtime's chat-completions client against the real small model the
`llm_server` fixture serves (SmolLM2-135M on llama.cpp), and the fault
proxy's modes as the client sees them."""

import json

import pytest
from pydantic import SecretStr
from sightline_runtime.chat import ChatClient, ChatEndpoint, ChatError, ChatHTTPError, ChatMalformed, ChatTimeout, parse_reply
from sightline_runtime.llm_faults import FaultProxy

ASK = [{"role": "user", "content": "Say hello."}]


async def test_the_server_answers_with_the_model_it_was_started_with(llm_server):
    assert llm_server.running
    assert llm_server.started_in_s > 0
    async with ChatClient(ChatEndpoint(llm_server.base_url, llm_server.model, timeout_s=30)) as chat:
        reply = await chat.complete(ASK, max_tokens=4, seed=7)
        again = await chat.complete(ASK, max_tokens=4, seed=7)
    assert reply.model == llm_server.model
    assert reply.text, "the model said something"
    assert reply.finish_reason == "length", "4 tokens are not enough to finish"
    assert again.text == reply.text, "temperature 0 and a seed: the same answer twice"
    assert reply.latency_s > 0


def test_the_request_body_is_the_openai_shape():
    chat = ChatClient(ChatEndpoint("http://h/v1/", "m", max_tokens=99))
    body = chat.request_body(ASK, seed=3)
    assert body == {"model": "m", "messages": ASK, "temperature": 0.0, "max_tokens": 99, "stream": False, "seed": 3}
    assert chat.endpoint.completions_url == "http://h/v1/chat/completions"
    assert "seed" not in chat.request_body(ASK)


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (b"<html>502</html>", "not a chat-completions response"),
        (b'{"choices": []}', "not a chat-completions response"),
        (b'{"choices": [{"message": {"content": 42}}]}', "not text"),
    ],
)
def test_a_body_that_is_not_a_completion_is_malformed(body, match):
    with pytest.raises(ChatMalformed, match=match):
        parse_reply(body)


def test_thinking_is_not_the_answer():
    body = json.dumps({"model": "r1", "choices": [{"message": {"content": "<think>hmm</think>\n Hola. "}, "finish_reason": "stop"}]})
    assert parse_reply(body.encode()).text == "Hola."


@pytest.mark.parametrize(("mode", "error"), [("status_500", ChatHTTPError), ("garbage", ChatMalformed), ("delay", ChatTimeout)])
async def test_faults_are_typed_errors_without_the_key(llm_proxy, llm_server, mode, error):
    llm_proxy.mode, llm_proxy.delay_s = mode, 3.0
    secret = "sk-runtime-never-in-errors"
    endpoint = ChatEndpoint(llm_proxy.url, llm_server.model, SecretStr(secret), timeout_s=0.5 if mode == "delay" else 30)
    async with ChatClient(endpoint) as chat:
        with pytest.raises(error) as failure:
            await chat.complete(ASK)
    assert secret not in str(failure.value)
    assert llm_proxy.chat_exchanges[0].headers["authorization"] == f"Bearer {secret}"


async def test_an_unstarted_client_and_a_bad_mode_say_so(llm_server):
    with pytest.raises(ChatError, match="not started"):
        await ChatClient(ChatEndpoint(llm_server.base_url, llm_server.model)).complete(ASK)
    with pytest.raises(ValueError, match="unknown fault mode"):
        FaultProxy(llm_server.base_url, mode="flaky")

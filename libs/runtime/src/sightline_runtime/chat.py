"""An OpenAI-compatible chat-completions client (POST {url}/chat/completions):
the one copy of the HTTP and JSON plumbing every LLM adapter uses (vLLM,
llama.cpp's server, a hosted API).

Each call has a deadline; every way it can fail is one ChatError subclass
with a message that names the endpoint, never the API key: ChatTimeout,
ChatUnreachable (nothing answers), ChatHTTPError (a non-200 status) and
ChatMalformed (an answer that is not a chat completion with text in it).
The key is a SecretStr and only ever goes into the Authorization header.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import SecretStr

log = logging.getLogger(__name__)

# Reasoning models put their chain of thought first; it is never the answer.
_THINKING = re.compile(r"<think>.*?</think>", re.DOTALL)


@dataclass(frozen=True)
class ChatEndpoint:
    """Where the model is and what a call may cost. url is the API base (…/v1)."""

    url: str
    model: str
    api_key: SecretStr = field(default_factory=lambda: SecretStr(""))
    timeout_s: float = 10.0
    max_tokens: int = 256

    @property
    def completions_url(self) -> str:
        return self.url.rstrip("/") + "/chat/completions"


class ChatError(Exception):
    """The endpoint gave no usable answer; the caller falls back."""

    reason = "error"


class ChatTimeout(ChatError):
    reason = "timeout"


class ChatUnreachable(ChatError):
    reason = "unreachable"


class ChatHTTPError(ChatError):
    reason = "http"

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class ChatMalformed(ChatError):
    reason = "malformed"


@dataclass(frozen=True)
class ChatReply:
    text: str  # the answer, thinking removed and trimmed
    model: str  # as the endpoint names it
    finish_reason: str  # "stop", or "length" when max_tokens cut it short
    latency_s: float


class ChatClient:
    """One endpoint; start() before use, close() at shutdown (or `async with`)."""

    def __init__(self, endpoint: ChatEndpoint, *, max_concurrency: int = 8) -> None:
        self.endpoint = endpoint
        self._concurrency = asyncio.Semaphore(max_concurrency)
        self._client: httpx.AsyncClient | None = None

    async def start(self) -> ChatClient:
        headers = {"content-type": "application/json"}
        key = self.endpoint.api_key.get_secret_value()
        if key:
            headers["authorization"] = f"Bearer {key}"
        # No start-up probe: an endpoint that is down must not stop a service
        # whose adapters all have a fallback.
        self._client = httpx.AsyncClient(headers=headers, timeout=httpx.Timeout(self.endpoint.timeout_s))
        return self

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def __aenter__(self) -> ChatClient:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def started(self) -> bool:
        return self._client is not None

    def request_body(
        self,
        messages: Sequence[Mapping[str, str]],
        *,
        max_tokens: int | None = None,
        temperature: float = 0.0,
        seed: int | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.endpoint.model,
            "messages": [dict(m) for m in messages],
            "temperature": temperature,
            "max_tokens": max_tokens or self.endpoint.max_tokens,
            "stream": False,
        }
        if seed is not None:
            body["seed"] = seed
        return body

    async def complete(
        self,
        messages: Sequence[Mapping[str, str]],
        *,
        max_tokens: int | None = None,
        temperature: float = 0.0,
        seed: int | None = None,
        timeout_s: float | None = None,
    ) -> ChatReply:
        """The model's answer to `messages`, within timeout_s (default: the endpoint's)."""
        if self._client is None:
            raise ChatError(f"chat client for {self.endpoint.completions_url} is not started")
        url = self.endpoint.completions_url
        deadline = timeout_s if timeout_s is not None else self.endpoint.timeout_s
        body = self.request_body(messages, max_tokens=max_tokens, temperature=temperature, seed=seed)
        started = time.perf_counter()
        try:
            # The deadline covers waiting for a slot too: a queue is also slowness.
            async with asyncio.timeout(deadline), self._concurrency:
                response = await self._client.post(url, json=body)
        except (TimeoutError, httpx.TimeoutException):
            raise ChatTimeout(f"{url} took over {deadline:g}s") from None
        except httpx.HTTPError as err:
            raise ChatUnreachable(f"{url} unreachable: {type(err).__name__}") from None
        latency = time.perf_counter() - started
        if response.status_code != 200:
            raise ChatHTTPError(f"{url} answered HTTP {response.status_code}", response.status_code)
        reply = parse_reply(response.content, latency_s=latency)
        log.debug(
            "chat completion",
            extra={"endpoint": url, "model": reply.model, "latency_ms": round(latency * 1000), "finish_reason": reply.finish_reason},
        )
        return reply


def parse_reply(body: bytes, *, latency_s: float = 0.0) -> ChatReply:
    """The answer in a chat-completions response body, or ChatMalformed."""
    try:
        payload = json.loads(body)
        choice = payload["choices"][0]
        content = choice["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as err:
        raise ChatMalformed(f"not a chat-completions response ({type(err).__name__})") from None
    if not isinstance(content, str):
        raise ChatMalformed("message content is not text")
    return ChatReply(
        text=_THINKING.sub("", content).strip(),
        model=str(payload.get("model") or ""),
        finish_reason=str(choice.get("finish_reason") or ""),
        latency_s=latency_s,
    )

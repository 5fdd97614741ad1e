"""An OpenAI-compatible chat-completions endpoint as a translation engine:
a Qwen-MT class model served by vLLM, for example (POST {url}/chat/completions).

Used only when a URL is configured, and always with a local engine after
it in the route: a slow, failing or nonsense-answering endpoint costs at
most the timeout, then the local engine answers (fallback_used=true). After
`failure_threshold` failures in a row the endpoint is not tried for
`cooldown_s` (a circuit breaker), so an outage does not add the timeout to
every caption; the first call after the pause tries it again.

The API key is a SecretStr and only ever goes into the Authorization
header; it is never logged or put into an error message.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence

from pydantic import SecretStr
from sightline_runtime.chat import ChatClient, ChatEndpoint, ChatError, ChatMalformed, ChatTimeout

from sightline_translation.engines import PLACEHOLDER, Engine, EngineError, EngineGarbage, EngineTimeout, EngineUnavailable, Lane
from sightline_translation.languages import Pair, language_name

SYSTEM_PROMPT = (
    "You are a translation engine for live captions. Translate the user's text from {source} to {target}. "
    "Reply with the translation only: no quotes, notes or explanations. "
    "Copy tokens like ⟦0⟧ unchanged; they stand for names and terms translated elsewhere."
)


class CircuitBreaker:
    def __init__(self, failure_threshold: int, cooldown_s: float) -> None:
        self.failure_threshold = failure_threshold
        self.cooldown_s = cooldown_s
        self.failures = 0
        self.opened_at: float | None = None

    def allow(self) -> bool:
        if self.opened_at is None:
            return True
        # Half-open after the pause: let calls try again; one more failure re-opens.
        return time.monotonic() - self.opened_at >= self.cooldown_s

    def record(self, ok: bool) -> None:
        if ok:
            self.failures, self.opened_at = 0, None
            return
        self.failures += 1
        if self.failures >= self.failure_threshold:
            self.opened_at = time.monotonic()

    @property
    def open(self) -> bool:
        return not self.allow()


class OpenAICompatibleEngine(Engine):
    name = "openai-compatible"

    def __init__(
        self,
        pairs: Iterable[Pair],
        *,
        url: str,
        model: str,
        api_key: SecretStr = SecretStr(""),  # noqa: B008 - immutable default
        timeout_s: float = 2.0,
        failure_threshold: int = 3,
        cooldown_s: float = 15.0,
        max_concurrency: int = 8,
        seed: int | None = None,
    ) -> None:
        super().__init__(pairs)
        self.chat = ChatClient(ChatEndpoint(url=url, model=model, api_key=api_key, timeout_s=timeout_s), max_concurrency=max_concurrency)
        self.endpoint = self.chat.endpoint.completions_url
        self.model = model
        self.timeout_s = timeout_s
        # A fixed seed makes a sampling endpoint repeatable (tests, benchmarks).
        self.seed = seed
        self.breaker = CircuitBreaker(failure_threshold, cooldown_s)

    async def start(self) -> None:
        await self.chat.start()

    async def close(self) -> None:
        await self.chat.close()

    def healthy(self) -> bool:
        return self.chat.started

    def messages(self, text: str, pair: Pair) -> list[dict[str, str]]:
        return [
            {"role": "system", "content": SYSTEM_PROMPT.format(source=language_name(pair.source), target=language_name(pair.target))},
            {"role": "user", "content": text},
        ]

    async def _one(self, text: str, pair: Pair) -> str:
        if not text.strip():
            return ""
        try:
            reply = await self.chat.complete(self.messages(text, pair), max_tokens=max(64, 4 * len(text)), seed=self.seed)
        except ChatMalformed as err:
            raise EngineGarbage(str(err)) from None
        return _translation(reply.text, source=text)

    async def translate(self, texts: Sequence[str], pair: Pair, *, lane: Lane = Lane.FINAL) -> list[str]:
        if not self.chat.started:
            raise EngineError("openai-compatible engine is not started")
        if not self.breaker.allow():
            raise EngineUnavailable(f"{self.endpoint} failed {self.breaker.failures} times in a row; pausing it")
        try:
            async with asyncio.timeout(self.timeout_s):
                results = await asyncio.gather(*(self._one(t, pair) for t in texts))
        except (TimeoutError, ChatTimeout):
            self.breaker.record(ok=False)
            raise EngineTimeout(f"{self.endpoint} took over {self.timeout_s:g}s") from None
        except ChatError as err:
            self.breaker.record(ok=False)
            raise EngineError(str(err)) from None
        except EngineError:
            self.breaker.record(ok=False)
            raise
        self.breaker.record(ok=True)
        return list(results)


def _translation(answer: str, *, source: str) -> str:
    """The model's answer as a translation of `source`, or EngineGarbage."""
    text = answer.strip('"“”').strip()
    if not text:
        raise EngineGarbage("empty translation")
    # A translation is not ten times its source: that is a model rambling.
    if len(text) > 10 * len(source) + 200:
        raise EngineGarbage(f"answer of {len(text)} characters for a {len(source)}-character text")
    if set(PLACEHOLDER.findall(source)) - set(PLACEHOLDER.findall(text)):
        raise EngineGarbage("the answer lost a glossary placeholder")
    return text

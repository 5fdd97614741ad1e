"""Which engine translates what: a route per language pair is a chain of
engines, tried in order until one answers.

A later engine answering means the result says fallback_used=true and
names the engine that actually answered. Successful translations by the
route's first engine are cached (LRU): captions repeat ("thank you",
the same partial text twice), and a final whose text equals its last
partial costs nothing. Fallback answers are not cached, so the preferred
engine is asked again once it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sightline_translation.engines import PLACEHOLDER, Engine, EngineError, EngineGarbage, Lane
from sightline_translation.languages import Pair
from sightline_translation.metrics import TranslationMetrics

log = logging.getLogger(__name__)


class UnsupportedPair(Exception):
    def __init__(self, pair: Pair, supported: Sequence[Pair]) -> None:
        listed = ", ".join(str(p) for p in supported) or "none"
        super().__init__(f"no translation engine for {pair.source}->{pair.target} (routes: {listed})")
        self.pair = pair


class TranslationFailed(Exception):
    """Every engine of the route failed."""


@dataclass(frozen=True)
class Result:
    texts: list[str]
    engine: str
    fallback_used: bool


class LruCache:
    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[tuple[Pair, str], tuple[str, str]] = OrderedDict()

    def get(self, key: tuple[Pair, str]) -> tuple[str, str] | None:
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def put(self, key: tuple[Pair, str], value: tuple[str, str]) -> None:
        if self.size <= 0:
            return
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self.size:
            self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)


class Router:
    def __init__(self, routes: Mapping[Pair, Sequence[Engine]], metrics: TranslationMetrics, *, cache_size: int = 10_000) -> None:
        self.routes = {pair: tuple(chain) for pair, chain in routes.items()}
        self.metrics = metrics
        self.cache = LruCache(cache_size)
        self._started = False
        metrics.watch_engines(lambda: self.engines)

    @property
    def engines(self) -> list[Engine]:
        return list({id(e): e for chain in self.routes.values() for e in chain}.values())

    @property
    def pairs(self) -> list[Pair]:
        return sorted(self.routes)

    def supports(self, pair: Pair) -> bool:
        return pair in self.routes

    def describe(self) -> dict[str, list[str]]:
        return {str(pair): [e.name for e in chain] for pair, chain in sorted(self.routes.items())}

    async def start(self) -> None:
        try:
            await asyncio.gather(*(engine.start() for engine in self.engines))
        except BaseException:
            await self.close()
            raise
        self._started = True
        log.info("translation engines ready", extra={"routes": self.describe()})

    async def close(self) -> None:
        self._started = False
        for engine in self.engines:
            with contextlib.suppress(Exception):
                await engine.close()

    def ready(self) -> bool:
        return self._started and all(engine.healthy() for engine in self.engines)

    async def translate(self, texts: Sequence[str], pair: Pair, *, lane: Lane = Lane.FINAL, kind: str = "final") -> Result:
        chain = self.routes.get(pair)
        if chain is None:
            raise UnsupportedPair(pair, self.pairs)
        out: list[str | None] = [None] * len(texts)
        engine_name = chain[0].name
        misses: list[int] = []
        for i, text in enumerate(texts):
            if not text.strip():
                out[i] = ""
                continue
            hit = self.cache.get((pair, text))
            self.metrics.cache.labels("hit" if hit else "miss").inc()
            if hit is None:
                misses.append(i)
            else:
                out[i], engine_name = hit
        fallback_used = False
        if misses:
            translated, engine, fallback_used = await self._through_chain(chain, [texts[i] for i in misses], pair, lane, kind)
            engine_name = engine.name
            for i, text in zip(misses, translated, strict=True):
                out[i] = text
                if not fallback_used:
                    self.cache.put((pair, texts[i]), (text, engine.name))
        outcome = "fallback" if fallback_used else "ok"
        self.metrics.translations.labels(engine_name, kind, outcome).inc(len(texts))
        return Result([t or "" for t in out], engine_name, fallback_used)

    async def _through_chain(
        self, chain: Sequence[Engine], texts: list[str], pair: Pair, lane: Lane, kind: str
    ) -> tuple[list[str], Engine, bool]:
        failures: list[str] = []
        for position, engine in enumerate(chain):
            started = time.perf_counter()
            try:
                result = await engine.translate(texts, pair, lane=lane)
                _check(texts, result)
            except EngineError as err:
                self.metrics.engine_seconds.labels(engine.name).observe(time.perf_counter() - started)
                self.metrics.engine_failures.labels(engine.name, err.reason).inc()
                failures.append(f"{engine.name}: {err}")
                log.warning(
                    "translation engine failed",
                    extra={"engine": engine.name, "pair": str(pair), "reason": err.reason, "error": str(err), "kind": kind},
                )
                continue
            self.metrics.engine_seconds.labels(engine.name).observe(time.perf_counter() - started)
            if position > 0:
                for failed in chain[:position]:
                    self.metrics.fallbacks.labels(failed.name, engine.name).inc()
            return result, engine, position > 0
        self.metrics.translations.labels("none", kind, "failed").inc(len(texts))
        raise TranslationFailed(f"every engine for {pair} failed: {'; '.join(failures)}")


def _check(texts: Sequence[str], result: Sequence[str]) -> None:
    if len(result) != len(texts):
        raise EngineGarbage(f"{len(result)} translations for {len(texts)} texts")
    for source, translated in zip(texts, result, strict=True):
        if set(PLACEHOLDER.findall(source)) - set(PLACEHOLDER.findall(translated)):
            raise EngineGarbage("a glossary placeholder was lost")

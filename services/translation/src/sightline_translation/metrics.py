"""Prometheus metrics of the translation service (no device ids as labels)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from sightline_translation.engines import Engine

ENGINE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class _EngineRestarts(Collector):
    """Restarts that engines count themselves (Apertium pipelines)."""

    def __init__(self, engines: Callable[[], Iterable[Engine]]) -> None:
        self._engines = engines

    def collect(self):
        family = CounterMetricFamily(
            "sightline_translation_engine_restarts", "Engine processes restarted after a crash or hang", labels=["engine"]
        )
        for engine in self._engines():
            family.add_metric([engine.name], float(getattr(engine, "restarts", 0)))
        yield family


class TranslationMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.translations = Counter(
            "sightline_translation_translations_total",
            "Texts handled, by answering engine ('none' when nothing was translated), kind (partial, final, rpc, photo) and outcome "
            "(ok, fallback, failed, unsupported, empty, no_target, same_language, no_text)",
            ["engine", "kind", "outcome"],
            registry=registry,
        )
        self.engine_seconds = Histogram(
            "sightline_translation_engine_seconds",
            "Time of one engine call (a batch of texts), failures included",
            ["engine"],
            buckets=ENGINE_BUCKETS,
            registry=registry,
        )
        self.engine_failures = Counter(
            "sightline_translation_engine_failures_total",
            "Engine calls that failed, by reason (timeout, error, garbage, unavailable)",
            ["engine", "reason"],
            registry=registry,
        )
        self.fallbacks = Counter(
            "sightline_translation_fallbacks_total",
            "Times a later engine of a route answered because an earlier one failed",
            ["engine", "fallback"],
            registry=registry,
        )
        self.cache = Counter(
            "sightline_translation_cache_total",
            "Translation cache lookups, by result (hit, miss)",
            ["result"],
            registry=registry,
        )
        self.partials_skipped = Counter(
            "sightline_translation_partials_skipped_total",
            "Partial transcripts not translated, by reason (superseded by a newer partial, finalized, stale)",
            ["reason"],
            registry=registry,
        )
        self.glossary_terms = Counter(
            "sightline_translation_glossary_terms_total",
            "Glossary terms that overrode an engine's choice",
            registry=registry,
        )

    def watch_engines(self, engines: Callable[[], Iterable[Engine]]) -> None:
        self.registry.register(_EngineRestarts(engines))

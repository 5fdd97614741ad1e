"""Translating for one device: its glossary around the routed engines."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sightline_translation.engines import Lane
from sightline_translation.glossary import Glossary, Protected, neutralise
from sightline_translation.languages import Pair
from sightline_translation.metrics import TranslationMetrics
from sightline_translation.router import Router


@dataclass(frozen=True)
class Outcome:
    texts: list[str]
    engine: str
    fallback_used: bool
    glossary_terms: list[str]


class Translator:
    def __init__(self, router: Router, metrics: TranslationMetrics, glossary: Glossary | None = None) -> None:
        self.router = router
        self.metrics = metrics
        # Bound at start-up, once the broker is connected (it lives in JetStream KV).
        self.glossary = glossary

    def supports(self, pair: Pair) -> bool:
        return self.router.supports(pair)

    def _protect(self, device_id: str, pair: Pair, text: str) -> Protected:
        text = neutralise(text)
        return self.glossary.protect(device_id, pair, text) if self.glossary is not None else Protected(text)

    async def translate(self, device_id: str, texts: Sequence[str], pair: Pair, *, lane: Lane = Lane.FINAL, kind: str = "final") -> Outcome:
        protected = [self._protect(device_id, pair, t) for t in texts]
        result = await self.router.translate([p.text for p in protected], pair, lane=lane, kind=kind)
        translated = [p.restore(t) for p, t in zip(protected, result.texts, strict=True)]
        terms = list(dict.fromkeys(term for p in protected for term in p.terms))
        if terms:
            self.metrics.glossary_terms.inc(len(terms))
        return Outcome(translated, result.engine, result.fallback_used, terms)

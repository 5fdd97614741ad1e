"""Routes from settings: parse SIGHTLINE_TRANSLATION_ROUTES and build the
engines they name (each engine once, serving all its pairs)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from urllib.parse import urlsplit

from sightline_translation.engines import Engine
from sightline_translation.engines.apertium import ApertiumEngine
from sightline_translation.engines.cedict import CedictEngine
from sightline_translation.engines.openai_compatible import OpenAICompatibleEngine
from sightline_translation.languages import InvalidLanguage, Pair, parse_pair
from sightline_translation.metrics import TranslationMetrics
from sightline_translation.router import Router
from sightline_translation.settings import TranslationSettings

log = logging.getLogger(__name__)

ENGINE_NAMES = ("apertium", "cedict", "openai-compatible")


class RouteError(ValueError):
    pass


def _pairs_spec(spec: str, what: str) -> dict[Pair, str]:
    """ "en-es=x,es-en=y" -> {Pair: "x", ...}."""
    result: dict[Pair, str] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not value.strip():
            raise RouteError(f"{what}: {item!r} is not 'pair=value'")
        try:
            pair = parse_pair(key)
        except InvalidLanguage as err:
            raise RouteError(f"{what}: {err}") from None
        result[pair] = value.strip()
    return result


def parse_routes(spec: str) -> dict[Pair, tuple[str, ...]]:
    spec = spec.strip()
    raw: dict[Pair, list[str]] = {}
    if spec.startswith("{"):
        try:
            data = json.loads(spec)
        except ValueError as err:
            raise RouteError(f"routes: not valid JSON: {err}") from None
        for key, value in data.items():
            try:
                pair = parse_pair(key)
            except InvalidLanguage as err:
                raise RouteError(f"routes: {err}") from None
            raw[pair] = value.split(">") if isinstance(value, str) else list(value)
    else:
        raw = {pair: chain.split(">") for pair, chain in _pairs_spec(spec, "routes").items()}
    routes: dict[Pair, tuple[str, ...]] = {}
    for pair, chain in raw.items():
        names = tuple(n.strip() for n in chain if n.strip())
        unknown = [n for n in names if n not in ENGINE_NAMES]
        if unknown or not names:
            raise RouteError(f"routes: {pair} names unknown engine(s) {unknown or '(none)'}; known: {', '.join(ENGINE_NAMES)}")
        if pair.source == pair.target:
            raise RouteError(f"routes: {pair} translates a language into itself")
        routes[pair] = names
    if not routes:
        raise RouteError("routes: no route configured")
    return routes


def parse_apertium_modes(spec: str) -> dict[Pair, str]:
    return _pairs_spec(spec, "apertium modes")


def build_router(settings: TranslationSettings, metrics: TranslationMetrics) -> Router:
    wanted = parse_routes(settings.translation_routes)
    if not settings.translation_llm_url:
        dropped = [str(p) for p, chain in wanted.items() if "openai-compatible" in chain]
        wanted = {p: tuple(n for n in chain if n != "openai-compatible") for p, chain in wanted.items()}
        if dropped:
            log.info("no LLM endpoint configured; local engines only", extra={"pairs": dropped})
        empty = [str(p) for p, chain in wanted.items() if not chain]
        if empty:
            raise RouteError(f"routes {empty} use only openai-compatible, but SIGHTLINE_TRANSLATION_LLM_URL is empty")
    elif any(chain[-1] == "openai-compatible" for chain in wanted.values()):
        log.warning("a route ends with the LLM endpoint: when it is down, that pair is not translated")

    def pairs_of(name: str) -> list[Pair]:
        return [p for p, chain in wanted.items() if name in chain]

    engines: dict[str, Engine] = {}
    if pairs_of("apertium"):
        modes = parse_apertium_modes(settings.translation_apertium_modes)
        missing = [str(p) for p in pairs_of("apertium") if p not in modes]
        if missing:
            raise RouteError(f"apertium is routed for {missing} but SIGHTLINE_TRANSLATION_APERTIUM_MODES has no mode for them")
        engines["apertium"] = ApertiumEngine(
            {p: modes[p] for p in pairs_of("apertium")},
            data_dir=Path(settings.translation_apertium_dir),
            timeout_s=settings.translation_apertium_timeout_s,
        )
    if pairs_of("cedict"):
        engines["cedict"] = CedictEngine(pairs_of("cedict"))
    if pairs_of("openai-compatible"):
        url = settings.translation_llm_url
        engines["openai-compatible"] = OpenAICompatibleEngine(
            pairs_of("openai-compatible"),
            url=url,
            model=settings.translation_llm_model,
            api_key=settings.translation_llm_api_key,
            timeout_s=settings.translation_llm_timeout_s,
            failure_threshold=settings.translation_llm_failure_threshold,
            cooldown_s=settings.translation_llm_cooldown_s,
        )
        # Only the host: the URL could carry credentials.
        log.info("LLM endpoint configured", extra={"llm_host": urlsplit(url).hostname, "model": settings.translation_llm_model})
    routes = {pair: [engines[name] for name in chain] for pair, chain in wanted.items()}
    return Router(routes, metrics, cache_size=settings.translation_cache_size)

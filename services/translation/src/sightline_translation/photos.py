"""Translating what vision read in a photo: signs and menus.

One VisionResult in, one Translation out (`translation.photo.<device>`,
origin SIGN, `regions` indexed like the result's text regions), so overlay
can swap each label's source text for its translation. Regions are grouped
by the language vision detected and each group goes to the engines (and the
device's glossary) in one call; a region already in the target language is
passed through unchanged. A region that gets no translation has an empty
`text` and the event's status says why: UNSUPPORTED (no engine for a pair
of some group), FAILED (the engines failed on the last delivery attempt).
A photo with no text publishes nothing: overlay expects no translation then.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass

from sightline.v1.errors_pb2 import ErrorCode
from sightline.v1.translation_pb2 import TextOrigin, TranslatedRegion, Translation, TranslationStatus
from sightline.v1.vision_pb2 import VisionResult
from sightline_runtime.codec import EventRejected
from sightline_runtime.consumer import EventContext
from sightline_runtime.events import HybridClock, new_meta

from sightline_translation.bus import SERVICE
from sightline_translation.engines import Lane
from sightline_translation.languages import InvalidLanguage, Pair, primary
from sightline_translation.metrics import TranslationMetrics
from sightline_translation.router import UnsupportedPair
from sightline_translation.settings import TranslationSettings
from sightline_translation.sign_terms import sign_wording
from sightline_translation.translator import Translator

_EVENT_IDS = uuid.UUID("0b7f4e0e-8c1a-4f55-a0f3-6d2f1f1c9a42")


@dataclass
class _Outcome:
    texts: dict[int, str]
    engines: set[str]
    glossary_terms: list[str]
    fallback_used: bool = False
    unsupported: list[str] | None = None


class PhotoTranslator:
    def __init__(self, settings: TranslationSettings, translator: Translator, metrics: TranslationMetrics, clock: HybridClock) -> None:
        self.settings = settings
        self.translator = translator
        self.metrics = metrics
        self.clock = clock

    def target(self, event: VisionResult, ctx: EventContext) -> str:
        wanted = event.target_language or (ctx.device.default_target_language if ctx.device is not None else "")
        if not wanted.strip():
            return ""
        try:
            return primary(wanted)
        except InvalidLanguage as err:
            raise EventRejected(
                ErrorCode.ERROR_CODE_INVALID, f"target language: {err}", event_id=ctx.event_id, device_id=ctx.device_id
            ) from None

    def _groups(self, event: VisionResult, ctx: EventContext, target: str) -> tuple[dict[str, list[int]], dict[int, str], dict[int, str]]:
        """Region indexes by source language, the regions passed through, and common signs' wording."""
        limit, longest = self.settings.translation_max_photo_regions, self.settings.translation_max_text_chars
        if len(event.text_regions) > limit:
            raise EventRejected(
                ErrorCode.ERROR_CODE_INVALID,
                f"{len(event.text_regions)} text regions; at most {limit} per photo",
                event_id=ctx.event_id,
                device_id=ctx.device_id,
            )
        groups: dict[str, list[int]] = defaultdict(list)
        unchanged: dict[int, str] = {}
        signs: dict[int, str] = {}
        for index, region in enumerate(event.text_regions):
            if len(region.text) > longest:
                raise EventRejected(
                    ErrorCode.ERROR_CODE_INVALID,
                    f"text region {index} has {len(region.text)} characters; the limit is {longest}",
                    event_id=ctx.event_id,
                    device_id=ctx.device_id,
                )
            if not region.text.strip():
                continue
            try:
                source = primary(region.language) if region.language else ""
            except InvalidLanguage:
                source = ""
            if not target or source == target or not source:
                # Nothing to translate into, already in the wearer's language, or
                # a language vision could not tell: shown as read.
                unchanged[index] = region.text
            elif (wording := sign_wording(region.text, source, target)) is not None:
                signs[index] = wording
            else:
                groups[source].append(index)
        return groups, unchanged, signs

    async def translate(self, event: VisionResult, ctx: EventContext, *, last_attempt: bool) -> Translation | None:
        """The photo's Translation; None when it has no text. Raises
        TranslationFailed (retried by the runtime) unless this is the last
        attempt, where the failure is published as status FAILED."""
        target = self.target(event, ctx)
        groups, unchanged, signs = self._groups(event, ctx, target)
        if not groups and not unchanged and not signs:
            self.metrics.translations.labels("none", "photo", "no_text").inc()
            return None
        outcome = _Outcome(texts=unchanged | signs, engines={"signs"} if signs else set(), glossary_terms=[])
        status, detail = TranslationStatus.TRANSLATION_STATUS_OK, ""
        try:
            await self._translate_groups(event, ctx, target, groups, outcome)
        except Exception as err:
            if not last_attempt:
                raise
            status, detail = TranslationStatus.TRANSLATION_STATUS_FAILED, f"{type(err).__name__}: {err}"
        if outcome.unsupported and status == TranslationStatus.TRANSLATION_STATUS_OK:
            status, detail = TranslationStatus.TRANSLATION_STATUS_UNSUPPORTED, "; ".join(outcome.unsupported)
        name = TranslationStatus.Name(status).removeprefix("TRANSLATION_STATUS_").lower()
        self.metrics.translations.labels(",".join(sorted(outcome.engines)) or "none", "photo", name).inc()
        regions = [
            TranslatedRegion(region_index=i, source_text=r.text, text=outcome.texts.get(i, ""), box=r.box)
            for i, r in enumerate(event.text_regions)
            if r.text.strip()
        ]
        return Translation(
            # From the result's id and target: a redelivered result is not announced twice.
            meta=new_meta(
                ctx.device_id,
                SERVICE,
                seq=self.clock.next(ctx.device_id),
                causation_id=ctx.event_id,
                event_id=uuid.uuid5(_EVENT_IDS, f"{ctx.event_id}/{target}").hex,
            ),
            source_event_id=ctx.event_id,
            is_final=True,
            origin=TextOrigin.TEXT_ORIGIN_SIGN,
            source_language=",".join(sorted({*groups, *(["zh"] if signs else [])})),
            target_language=target,
            engine=",".join(sorted(outcome.engines)) or "none",
            fallback_used=outcome.fallback_used,
            glossary_terms=outcome.glossary_terms,
            photo_id=event.photo_id,
            regions=regions,
            status=status,
            status_detail=detail[:500],
        )

    async def _translate_groups(
        self, event: VisionResult, ctx: EventContext, target: str, groups: dict[str, list[int]], outcome: _Outcome
    ) -> None:
        for source, indexes in sorted(groups.items()):
            pair = Pair(source, target)
            texts = [event.text_regions[i].text for i in indexes]
            try:
                result = await self.translator.translate(ctx.device_id, texts, pair, lane=Lane.FINAL, kind="photo")
            except UnsupportedPair as err:
                outcome.unsupported = [*(outcome.unsupported or []), str(err)]
                continue
            outcome.texts.update(zip(indexes, result.texts, strict=True))
            outcome.engines.add(result.engine)
            outcome.fallback_used |= result.fallback_used
            outcome.glossary_terms += [t for t in result.glossary_terms if t not in outcome.glossary_terms]

"""Issue 9, translated labels: what vision read in a photo (a VisionResult on
the VISION stream, as vision publishes it) becomes one Translation of its
text regions on translation.photo.<device>, from the real engines and the
device's glossary: Chinese signs into English (CC-CEDICT), English signs
into Spanish (Apertium) and Chinese; regions already in the wearer's
language pass through; bad results are refused with an error event."""

import asyncio

import pytest
from nats.js.api import ConsumerConfig, DeliverPolicy
from sightline.v1.common_pb2 import Box
from sightline.v1.errors_pb2 import ErrorCode, ErrorEvent
from sightline.v1.translation_pb2 import TextOrigin, TranslationStatus
from sightline.v1.vision_pb2 import TextRegion, VisionResult
from sightline_runtime import subjects
from sightline_runtime.events import event_headers, new_meta
from sightline_translation.app import create_service
from sightline_translation.settings import TranslationSettings
from sightline_translation.testing import TranslationTap
from sightline_vision.bus import VISION


@pytest.fixture
async def translation(nats_server, owner_streams, run_service, http_port):
    settings = TranslationSettings(nats_url=nats_server.url, http_port=http_port, http_host="127.0.0.1")
    return await run_service(create_service(settings), timeout_s=60)


def _result(device: str, regions: list[tuple[str, str]], *, target: str, photo_id: str = "p1") -> VisionResult:
    return VisionResult(
        meta=new_meta(device, "vision"),
        photo_id=photo_id,
        image_width=1280,
        image_height=960,
        target_language=target,
        text_regions=[
            TextRegion(text=text, language=lang, confidence=0.95, box=Box(x=0.1, y=0.1 + 0.2 * i, width=0.5, height=0.1))
            for i, (text, lang) in enumerate(regions)
        ],
    )


async def _publish(nc, event: VisionResult | bytes, device: str) -> None:
    body = event if isinstance(event, bytes) else event.SerializeToString()
    headers = {} if isinstance(event, bytes) else event_headers(event)
    await nc.jetstream().publish(subjects.domain("vision", "result", device), body, headers=headers, stream=VISION.name)


async def test_chinese_signs_are_labelled_in_english(translation, nc, registry):
    await registry.add("alpha")
    result = _result("alpha", [("出口", "zh"), ("禁止吸烟", "zh"), ("收银台", "zh"), ("火车站在哪里", "zh")], target="en")
    async with TranslationTap(nc, "alpha") as tap:
        await _publish(nc, result, "alpha")
        photo = await tap.photo()
    assert photo.status == TranslationStatus.TRANSLATION_STATUS_OK
    assert (photo.photo_id, photo.source_event_id, photo.target_language) == ("p1", result.meta.event_id, "en")
    assert photo.origin == TextOrigin.TEXT_ORIGIN_SIGN
    # Common signs as signs say them; other text through CC-CEDICT.
    assert photo.engine == "cedict,signs"
    texts = {r.source_text: r.text for r in photo.regions}
    assert [texts["出口"], texts["禁止吸烟"], texts["收银台"]] == ["Exit", "No smoking", "Cashier"]
    assert "train station" in texts["火车站在哪里"].lower()
    # Indexed like the result's regions, boxes carried along.
    assert [r.region_index for r in photo.regions] == [0, 1, 2, 3]
    assert [r.box.y for r in photo.regions] == pytest.approx([0.1, 0.3, 0.5, 0.7])


async def test_english_signs_into_spanish_and_chinese_and_own_language_passes_through(translation, nc, registry):
    await registry.add("bravo")
    signs = [("Exit", "en"), ("No smoking", "en"), ("Train station", "en")]
    async with TranslationTap(nc, "bravo") as tap:
        await _publish(nc, _result("bravo", signs, target="es", photo_id="es"), "bravo")
        spanish = await tap.photo()
        await _publish(nc, _result("bravo", signs, target="zh", photo_id="zh"), "bravo")
        chinese = await tap.photo()
        await _publish(nc, _result("bravo", [*signs, ("出口", "zh")], target="en", photo_id="en"), "bravo")
        english = await tap.photo()
    es = [r.text.lower() for r in spanish.regions]
    assert "salida" in es[0], es
    assert "fumar" in es[1], es
    assert "tren" in es[2], es
    assert spanish.engine == "apertium"
    zh = [r.text for r in chinese.regions]
    assert "出口" in zh[0], zh
    assert "吸烟" in zh[1] or "禁烟" in zh[1], zh
    assert "火车站" in zh[2] or "车站" in zh[2], zh
    # Already English: unchanged; the Chinese one translated beside them.
    assert [r.text for r in english.regions[:3]] == ["Exit", "No smoking", "Train station"]
    assert "exit" in english.regions[3].text.lower()


async def test_the_device_default_language_and_no_text(translation, nc, registry):
    await registry.add("charlie", target_language="en")
    async with TranslationTap(nc, "charlie") as tap:
        await _publish(nc, _result("charlie", [("   ", "zh")], target="", photo_id="blank"), "charlie")
        await _publish(nc, _result("charlie", [("出口", "zh")], target="", photo_id="sign"), "charlie")
        photo = await tap.photo()
    # The photo without text announced nothing; the sign used the device's default.
    assert photo.photo_id == "sign"
    assert photo.target_language == "en"
    assert "exit" in photo.regions[0].text.lower()


async def test_an_unsupported_pair_says_so_and_keeps_the_rest(translation, nc, registry):
    await registry.add("delta")
    async with TranslationTap(nc, "delta") as tap:
        await _publish(nc, _result("delta", [("Bonjour", "fr"), ("Exit", "en")], target="en"), "delta")
        photo = await tap.photo()
    assert photo.status == TranslationStatus.TRANSLATION_STATUS_UNSUPPORTED
    assert "fr" in photo.status_detail
    assert [r.text for r in photo.regions] == ["", "Exit"]


async def _errors(js, count):
    sub = await js.subscribe(
        "errors.translation.>", stream="ERRORS", config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL), ordered_consumer=True
    )
    try:
        return [ErrorEvent.FromString((await sub.next_msg(timeout=10)).data) for _ in range(count)]
    finally:
        await sub.unsubscribe()


async def test_bad_results_are_refused_with_an_error_and_good_ones_still_translate(translation, nc, registry):
    await registry.add("echo")
    js = nc.jetstream()
    too_many = _result("echo", [("出口", "zh")] * 201, target="en")
    too_long = _result("echo", [("x" * 2001, "en")], target="es")
    bad_target = _result("echo", [("出口", "zh")], target="not a language!")
    for event in (b"\xff not a protobuf", too_many, too_long, bad_target):
        await _publish(nc, event, "echo")
    errors = await _errors(js, 4)
    assert [e.code for e in errors] == [ErrorCode.ERROR_CODE_MALFORMED] + [ErrorCode.ERROR_CODE_INVALID] * 3
    assert "201 text regions" in errors[1].message
    assert "2001 characters" in errors[2].message
    assert "target language" in errors[3].message
    async with TranslationTap(nc, "echo") as tap:
        await _publish(nc, _result("echo", [("出口", "zh")], target="en", photo_id="after"), "echo")
        photo = await asyncio.wait_for(tap.photo(), 10)
    assert photo.photo_id == "after"

"""TranslationService.Translate over NATS request/reply (translation.rpc.translate):
ad-hoc texts (a menu, a sign) through the same engines and glossary, and
clear refusals for requests that cannot be served."""

import pytest
from sightline.v1.translation_pb2 import TextOrigin, TranslateRequest
from sightline_translation.app import create_service
from sightline_translation.glossary import Glossary
from sightline_translation.rpc import ERROR_CODE_HEADER, RPC_SUBJECT, TranslateError, request_translation
from sightline_translation.settings import TranslationSettings


@pytest.fixture
async def translation(nats_server, owner_streams, run_service, http_port):
    settings = TranslationSettings(nats_url=nats_server.url, http_port=http_port, http_host="127.0.0.1", translation_max_rpc_texts=8)
    return await run_service(create_service(settings), timeout_s=60)


def _request(texts, source="en", target="es", device="menu-reader"):
    return TranslateRequest(
        device_id=device, source_language=source, target_language=target, texts=texts, origin=TextOrigin.TEXT_ORIGIN_MENU
    )


async def test_a_menu_is_translated_in_one_request(translation, nc, registry):
    await registry.add("menu-reader")
    es = await request_translation(nc, _request(["Chicken soup", "Grilled fish with rice", "", "Coffee"]))
    assert es.engine == "apertium"
    assert not es.fallback_used
    assert len(es.texts) == 4
    assert "pollo" in es.texts[0].lower()
    # Apertium says "pez" (a live fish) where a menu says "pescado": a glossary fixes that per device.
    assert "parrilla" in es.texts[1].lower()
    assert "arroz" in es.texts[1].lower()
    assert es.texts[2] == ""
    assert "café" in es.texts[3].lower()

    zh = await request_translation(nc, _request(["牛肉面", "炒饭", "出口"], source="zh", target="en"))
    assert (zh.engine, list(zh.texts)) == ("cedict", ["Beef noodle soup", "Fried rice", "Exit"])


async def test_the_device_glossary_applies_to_requests(translation, nc, registry):
    await registry.add("menu-reader")
    await Glossary(nc.jetstream()).add("menu-reader", "zh", "en", "炒饭", "Yangzhou fried rice")
    reply = None
    for _ in range(100):  # the service follows the KV by a watch
        reply = await request_translation(nc, _request(["炒饭"], source="zh", target="en"))
        if reply.texts[0] != "Fried rice":
            break
    assert list(reply.texts) == ["Yangzhou fried rice"]


async def test_the_same_language_is_returned_as_it_is(translation, nc, registry):
    await registry.add("menu-reader")
    reply = await request_translation(nc, _request(["Coffee"], source="en-GB", target="en-US"))
    assert (list(reply.texts), reply.engine) == (["Coffee"], "none")


BAD_REQUESTS = [
    # (what, request bytes, error code, words of the message)
    ("unknown device", _request(["hi"], device="stranger").SerializeToString(), 403, "not provisioned"),
    ("no device", _request(["hi"], device="").SerializeToString(), 400, "not a valid device id"),
    ("unsupported pair", _request(["hi"], target="fr").SerializeToString(), 400, "no translation engine for en->fr"),
    ("bad language", _request(["hi"], target="français").SerializeToString(), 400, "not a BCP-47 language tag"),
    ("no texts", _request([]).SerializeToString(), 400, "no texts"),
    ("too many texts", _request(["hi"] * 9).SerializeToString(), 400, "at most 8 per request"),
    ("too long", _request(["x" * 2001]).SerializeToString(), 400, "over the 2000-character limit"),
    ("garbage", b"\xff\xff\xff garbage", 400, "not a TranslateRequest"),
]


async def test_bad_requests_get_a_clear_error_and_the_service_keeps_serving(translation, nc, registry):
    await registry.add("menu-reader")
    for what, request_bytes, code, message in BAD_REQUESTS:
        reply = await nc.request(RPC_SUBJECT, request_bytes, timeout=5)
        assert reply.headers[ERROR_CODE_HEADER] == str(code), what
        assert message in reply.headers["Nats-Service-Error"], what
        assert reply.data == b"", what
        assert (await request_translation(nc, _request(["Coffee"]))).texts[0], f"still serving after {what}"
    refused = translation.metrics.registry.get_sample_value(
        "sightline_translation_translations_total", {"engine": "none", "kind": "rpc", "outcome": "refused"}
    )
    assert refused == len(BAD_REQUESTS) - 1  # the unsupported pair is counted as unsupported
    with pytest.raises(TranslateError) as raised:
        await request_translation(nc, _request(["hi"], device="stranger"))
    assert raised.value.code == 403

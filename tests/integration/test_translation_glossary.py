"""A device's glossary overrides the engine's choice on the bus, for Apertium
and for the LLM adapter alike, and is managed with `sightline glossary`."""

import asyncio

import pytest
from sightline.v1.translation_pb2 import TranslateRequest
from sightline_cli.commands import glossary as glossary_cli
from sightline_translation.app import create_service
from sightline_translation.glossary import Glossary
from sightline_translation.rpc import request_translation
from sightline_translation.settings import TranslationSettings
from sightline_translation.testing import TranslationTap, publish_transcript, transcript
from typer.testing import CliRunner


async def _until_translated(nc, device, source, target, text, expected, timeout_s=5.0):
    """The service follows the KV by a watch: wait until it applies a change."""
    request = TranslateRequest(device_id=device, source_language=source, target_language=target, texts=[text])
    async with asyncio.timeout(timeout_s):
        while expected not in (await request_translation(nc, request)).texts[0]:
            await asyncio.sleep(0.05)


@pytest.fixture
async def translation(nats_server, owner_streams, run_service, http_port):
    settings = TranslationSettings(nats_url=nats_server.url, http_port=http_port, http_host="127.0.0.1")
    return await run_service(create_service(settings), timeout_s=60)


async def test_a_glossary_term_overrides_apertium_for_that_device_only(translation, nc, registry):
    for device in ("alpha", "bravo"):
        await registry.add(device, target_language="es")
    admin = Glossary(nc.jetstream())
    await admin.add("alpha", "en", "es", "glasses", "gafas")
    await _until_translated(nc, "alpha", "en", "es", "my glasses", "gafas")

    async with TranslationTap(nc, "alpha") as alpha, TranslationTap(nc, "bravo") as bravo:
        await publish_transcript(nc, transcript("alpha", "My glasses are new.", final=True))
        await publish_transcript(nc, transcript("bravo", "My glasses are new.", final=True))
        with_glossary, without = await alpha.final(), await bravo.final()
    assert "gafas" in with_glossary.text
    assert list(with_glossary.glossary_terms) == ["glasses"]
    assert with_glossary.engine == "apertium"
    assert "gafas" not in without.text, f"bravo has no glossary: {without.text!r}"
    assert "vasos" in without.text, "Apertium's own choice for 'glasses'"
    assert list(without.glossary_terms) == []

    await admin.remove("alpha", "en", "es", "glasses")
    await _until_translated(nc, "alpha", "en", "es", "my glasses", "vasos")
    assert translation.metrics.registry.get_sample_value("sightline_translation_glossary_terms_total") >= 1


async def test_a_glossary_term_never_reaches_the_llm_and_survives_its_fallback(
    nats_server, owner_streams, run_service, http_port, nc, registry, llm_proxy, llm_server
):
    """With a real small model behind the fault-injecting proxy: the model
    sees a placeholder, the term comes back in its answer; an answer that
    loses the placeholder is not trusted and the local engine answers."""
    settings = TranslationSettings(
        nats_url=nats_server.url,
        http_port=http_port,
        http_host="127.0.0.1",
        translation_routes="zh-en=openai-compatible>cedict",
        translation_llm_url=llm_proxy.url,
        translation_llm_model=llm_server.model,
        translation_llm_timeout_s=30.0,  # a real model on a loaded 2-core machine
    )
    await run_service(create_service(settings), timeout_s=60)
    await registry.add("alpha", target_language="en")
    await Glossary(nc.jetstream()).add("alpha", "zh", "en", "小心地滑", "Caution: slippery floor")
    await _until_translated(nc, "alpha", "zh", "en", "出口小心地滑", "slippery", timeout_s=60)
    async with TranslationTap(nc, "alpha") as tap:
        await publish_transcript(nc, transcript("alpha", "前方小心地滑", final=True, language="zh"))
        by_llm = await tap.final(timeout_s=40)
        [asked] = [e for e in llm_proxy.chat_exchanges if e.user_text == "前方⟦0⟧"]
        llm_proxy.mode = "drop_placeholders"  # an LLM that loses the term is not trusted
        await publish_transcript(nc, transcript("alpha", "楼梯小心地滑", utterance_id="u2", final=True, language="zh"))
        by_fallback = await tap.final(timeout_s=40)
    assert by_llm.engine == "openai-compatible"
    assert "⟦0⟧" in asked.model_content, "the real model copied the placeholder"
    assert by_llm.text == asked.model_content.strip().strip('"“”').strip().replace("⟦0⟧", "Caution: slippery floor")
    assert list(by_llm.glossary_terms) == ["小心地滑"]
    sent = [e.user_text for e in llm_proxy.chat_exchanges]
    assert "前方⟦0⟧" in sent, "the LLM saw a placeholder, not the term"
    assert not any("小心地滑" in text for text in sent)
    assert (by_fallback.engine, by_fallback.fallback_used) == ("cedict", True)
    assert by_fallback.text.endswith("Caution: slippery floor")
    assert list(by_fallback.glossary_terms) == ["小心地滑"]


async def test_the_glossary_cli_adds_lists_and_removes(nats_server, nc):
    runner = CliRunner()

    def cli(*args):
        return runner.invoke(glossary_cli.app, [*args, "--server", nats_server.url])

    added = await asyncio.to_thread(cli, "add", "alpha", "smart glasses", "gafas inteligentes", "--from", "en", "--to", "es")
    assert added.exit_code == 0, added.output
    assert "smart glasses" in added.output
    listed = await asyncio.to_thread(cli, "list", "alpha")
    assert listed.exit_code == 0
    assert "gafas inteligentes" in listed.output
    assert [e.term for e in await Glossary(nc.jetstream()).list("alpha")] == ["smart glasses"]
    removed = await asyncio.to_thread(cli, "remove", "alpha", "smart glasses", "--from", "en", "--to", "es")
    assert removed.exit_code == 0
    missing = await asyncio.to_thread(cli, "remove", "alpha", "smart glasses", "--from", "en", "--to", "es")
    assert missing.exit_code == 1
    bad = await asyncio.to_thread(cli, "add", "alpha", "x", "y", "--from", "en", "--to", "en")
    assert bad.exit_code == 2
    assert "same" in bad.output
